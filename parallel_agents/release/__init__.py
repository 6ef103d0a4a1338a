"""Packaging, install, upgrade, rollback, and `setup` of the skill's own dependencies.
Imports: core, definitions."""
