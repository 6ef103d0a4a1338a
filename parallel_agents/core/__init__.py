"""The ground floor: typed errors, the user and skill folders, dependency checks, YAML with
line numbers, and settings. Imports nothing else of the package."""
