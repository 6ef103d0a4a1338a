"""The OpenClaw contract: its tools (sessions_spawn, agents_wait, sessions_history, ...) behind one
runtime, reached through an injected `tools` module, the Gateway's HTTP API or an attach grant's
MCP door; what OpenClaw delivers (announces, settled batches, history); the local install
(openclaw.json, the CLI, models, agent targets). Imports: core, definitions, prompts."""
