"""The command line: one module per command group, shared rendering; `main` builds the parser.
The only layer that prints. Imports: everything below."""
