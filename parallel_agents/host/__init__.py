"""Host-agent mode: `plan`/`check` for a host that makes the spawns itself, reading what OpenClaw
delivers to it, and `doctor`. Imports: the layers below and the package's public API."""
