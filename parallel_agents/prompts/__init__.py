"""What a child is told: the task prompt with fenced input data, and the reply contract derived
from the output schema. Imports: core, definitions."""
