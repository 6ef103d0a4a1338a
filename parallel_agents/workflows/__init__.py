"""Several runs composed: teams, creator -> reviewer -> refiner loops, agents that create agents,
planning a goal. They drive an orchestrator they are given. Imports: the layers below."""
