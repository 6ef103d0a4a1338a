"""A contract double of OpenClaw's sub-agent tools (checked against the live gateway) and
simulated agents that answer it. Imports: the layers below, up to engine."""
