"""Agent definitions: the model of one agent type, its schema validation, the registry of
shipped and user agents, and schema-valid samples. Imports: core."""
