"""parallel-agents: fan work out to specialised OpenClaw sub-agents and get every result back."""

__version__ = "0.1.0"
