"""`doctor`: is this machine ready? One check per line, each with the fix when it fails.

Gateway checks run when OPENCLAW_GATEWAY_URL is set. Whether `sessions_spawn` is allowed over
HTTP is asked without spawning anything: called with no arguments, an allowed sessions_spawn
answers 400 ("task required") before it spawns, a disallowed one 404. Tier models are only
tried with `--probe`, which spawns one tiny run per tier.

Least privilege: every agent definition that names an OpenClaw agent (`agent_id`) is checked
against the gateway's `agents_list` (the agent ids this session may spawn as) when the gateway
answers it, else against the local openclaw.json (roster.AgentRoster: agents.entries or
agents.list, subagents.allowAgents, with OpenClaw's rules from spawn_targets.py); a definition
with `sandbox: require` against the sandbox.mode of the agent it runs as (local config only).
agents_list is not in OpenClaw's "coding" tool profile, so a stock gateway offers it neither over
HTTP nor through an attach grant (tools.alsoAllow: ["agents_list"] adds it): the local config is
the usual source. One line per problem, with the fix; one ok line when there is none.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.request
from dataclasses import asdict, dataclass

OK, FAIL, SKIP = "ok", "fail", "skip"


@dataclass
class Check:
    name: str
    state: str          # ok | fail | skip
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = {OK: "✓", FAIL: "✗", SKIP: "-"}[self.state]
        return f"{mark} {self.name}: {self.detail}" + (f" (fix: {self.fix})" if self.fix else "")

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 10):
        return Check("python", OK, f"{version} ({sys.executable})")
    return Check("python", FAIL, f"{version} is older than 3.10", "install Python 3.10 or newer")


def _dependencies() -> Check:
    from parallel_agents.core.errors import EnvironmentProblem
    from parallel_agents.core.deps import check_installed, require, use_user_packages
    try:
        check_installed()
        yaml = require("yaml")
        require("jsonschema")
    except EnvironmentProblem as exc:  # MissingDependency: the fix is the setup command
        problem = exc.problems[0]
        return Check("dependencies", FAIL, problem.message, problem.fix)
    fast = "libyaml C loader" if getattr(yaml, "__with_libyaml__", False) else \
        "pure-Python YAML loader (slower; libyaml not available)"
    folder = use_user_packages()  # on sys.path already when complete (the entry points)
    where = f" (installed by `setup` in {folder})" if folder else ""
    return Check("dependencies", OK, f"jsonschema and pyyaml present{where}, {fast}")


def _registry() -> tuple[Check, object]:
    from parallel_agents.core.errors import ParallelAgentsError
    from parallel_agents.definitions.registry import Registry
    try:
        registry = Registry.load(strict=False)
    except ParallelAgentsError as exc:
        return Check("agents", FAIL, str(exc.problems[0]), exc.problems[0].fix), None
    if registry.problems:
        return Check("agents", FAIL, f"{len(registry.problems)} problem(s), first: "
                     f"{registry.problems[0]}", "run `python3 ai_orchestrator.py validate`"), registry
    overlay = sum(1 for d in registry if d.origin == "overlay")
    return Check("agents", OK, f"{len(registry)} agent types ({overlay} from your overlay folder)"), registry


def _config() -> tuple[Check, object]:
    from parallel_agents.core.config import load_config
    from parallel_agents.core.errors import ParallelAgentsError
    try:
        config = load_config()
    except ParallelAgentsError as exc:
        return Check("config", FAIL, str(exc.problems[0]), "fix the file named above"), None
    tiers = " → ".join(f"{t.name}={t.model or 'gateway default'}" for t in config.tiers)
    return Check("config", OK, f"max_concurrent {config.max_concurrent}; tiers {tiers}"), config


def _user_folder() -> Check:
    from parallel_agents.core.paths import user_home
    home = user_home()
    if not home.exists():
        parent = next((p for p in home.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return Check("user folder", OK, f"{home} (created on first run)")
        return Check("user folder", FAIL, f"{home} does not exist and cannot be created",
                     "set PARALLEL_AGENTS_HOME to a writable folder")
    if not os.access(home, os.W_OK):
        return Check("user folder", FAIL, f"{home} is not writable", f"chmod u+w {home}")
    return Check("user folder", OK, str(home))


def _gateway_checks(config, *, probe: bool, url: str | None = None,
                    allow_insecure_http: bool = False, found: dict | None = None) -> list[Check]:
    """The gateway checks; `found["caller"]` is set to the caller when the gateway took the token."""
    from parallel_agents.core.errors import ParallelAgentsError, ToolError
    from parallel_agents.openclaw.gateway import URL_ENV
    from parallel_agents.runtimes import gateway_caller
    gateway = config.with_gateway(allow_insecure_http=allow_insecure_http).gateway \
        if config is not None else {"allow_insecure_http": allow_insecure_http}
    try:
        caller = gateway_caller(url, gateway=gateway, retries=1, timeout_s=10)
    except ParallelAgentsError as exc:
        return [Check("gateway", FAIL, exc.problems[0].message, exc.problems[0].fix)]
    if caller is None:
        return [Check("gateway", SKIP, f"{URL_ENV} not set: script mode needs a gateway or "
                      "--simulate; host-agent mode (plan/check) needs none")]
    checks = []
    try:
        with urllib.request.urlopen(caller.base + "/health", timeout=10) as response:
            health = json.loads(response.read() or b"{}")
        checks.append(Check("gateway reachable", OK, f"{caller.base} ({health.get('status', 'up')})"))
    except Exception as exc:  # any failure to reach it is the finding
        return [Check("gateway reachable", FAIL, caller.redact(f"{caller.base}: {exc}"),
                      "start it (`openclaw gateway run`) or fix " + URL_ENV)]
    try:
        caller.call("sessions_spawn", {})
        checks.append(Check("sessions_spawn allowed", FAIL, "an empty spawn was accepted (unexpected)",
                            "check that the URL is an OpenClaw gateway"))
    except ToolError as exc:
        if "(400)" in exc.message:
            checks.append(Check("token accepted", OK, "the gateway accepted the token"))
            checks.append(Check("sessions_spawn allowed", OK, "reachable over HTTP"))
            if found is not None:
                found["caller"] = caller
        else:
            name = "token accepted" if "(401)" in exc.message else "sessions_spawn allowed"
            checks.append(Check(name, FAIL, exc.message, exc.fix))
            return checks
    probes = (("subagents", {"action": "list"}, "status, wait and cancel of runs"),
              ("sessions_history", {"sessionKey": "agent:main:subagent:doctor-probe"},
               "reading the replies of plain runs"),
              ("agents_wait", {"ids": ["doctor-probe"], "timeoutSeconds": 0},
               "collector runs (Swarm), with token usage"))
    for tool, args, why in probes:  # harmless: unknown ids get a "not found" result
        try:
            caller.call(tool, args)
            checks.append(Check(f"{tool} tool", OK, f"available ({why})"))
        except ToolError as exc:
            if "(400)" in exc.message:  # the tool exists; it only disliked the probe
                checks.append(Check(f"{tool} tool", OK, f"available ({why})"))
            else:  # optional on its own: the runtime uses what there is
                checks.append(Check(f"{tool} tool", SKIP, f"not offered over HTTP, so no {why}",
                                    exc.fix))
    offered = {c.name.split()[0] for c in checks if c.state == OK}
    if not offered & {"sessions_history", "agents_wait"}:
        checks.append(Check("results readable", FAIL, "neither sessions_history nor agents_wait "
                            "is offered, so no reply can be collected",
                            "allow sessions_history (or agents_wait) for HTTP callers"))
    if config is not None:
        checks += _tier_checks(caller, config, probe=probe)
        checks.append(Check("limits", OK if config.max_concurrent <= 8 else FAIL,
                            f"max_concurrent {config.max_concurrent}; the gateway runs "
                            "agents.defaults.subagents.maxConcurrent children at once (default 8) "
                            "and refuses more than maxChildrenPerAgent active ones (default 5), "
                            "which this skill treats as back-pressure",
                            None if config.max_concurrent <= 8 else
                            "lower max_concurrent to the gateway's subagents.maxConcurrent"))
    return checks


def _tier_checks(caller, config, *, probe: bool) -> list[Check]:
    from parallel_agents.core.errors import ToolError
    from parallel_agents.openclaw.runtime import OpenClawRuntime
    from parallel_agents.openclaw.spawn import SpawnRefused, SpawnRequest
    if not probe:
        return [Check("tier models", SKIP, "use --probe to spawn one tiny run per tier")]
    runtime = OpenClawRuntime(caller, collection="history")
    checks = []
    for tier in config.tiers:
        request = SpawnRequest(task="Reply with the single word OK.", label=f"doctor-{tier.name}",
                               task_name="doctor_probe", model=tier.model, run_timeout_seconds=60)
        try:
            receipt = runtime.spawn(request)
            outcomes = runtime.wait([receipt.run_id], 60)
            state = outcomes[0].status if outcomes else "still running after 60s"
            good = state == "ok"
            checks.append(Check(f"tier {tier.name}", OK if good else FAIL,
                                f"{tier.model or 'gateway default'}: run {state}",
                                None if good else "check the model's provider credentials"))
        except (SpawnRefused, ToolError) as exc:
            checks.append(Check(f"tier {tier.name}", FAIL, f"{tier.model}: {exc}",
                                "set a model the gateway allows for this tier in config.yaml"))
    return checks


def _host_checks(config) -> list[Check]:
    """Host-agent mode (plan/check) on the OpenClaw this process runs under: can check read the
    children from the gateway, where do the tier models go, can children read prompt files."""
    from parallel_agents.core.errors import ParallelAgentsError
    from parallel_agents.openclaw.hostenv import local_openclaw
    local = local_openclaw()
    if local is None or not (local.config_found or local.in_exec or local.openclaw_cli):
        return [Check("host mode", SKIP, "no OpenClaw install found from this process: check "
                      "needs the message that reported the children passed to it")]
    checks = []
    try:
        local.caller(timeout_s=10, retries=1).call("subagents", {"action": "list"})
        checks.append(Check("host mode: check reads the gateway", OK,
                            f"{local.gateway_url} answers with the configured "
                            f"{local.auth_mode} (no config change needed)"))
    except ParallelAgentsError as exc:
        problem = exc.problems[0]
        checks.append(Check("host mode: check reads the gateway", FAIL, problem.message,
                            (problem.fix + "; or " if problem.fix else "") + "pass check the "
                            "message that reported the children (check --plan ID --json FILE)"))
    catalog = local.available_models() if config is not None else None
    if catalog is None:
        why = local.models_problem.message if local.models_problem else "no config"
        checks.append(Check("host mode: tier models", SKIP, f"cannot list the gateway's models "
                            f"({why}); a refused model is moved to the gateway's default model "
                            "when the host reports the refusal"))
    else:
        default = catalog.default_model or local.default_model or "its default"
        for tier in config.tiers:
            if not tier.model:
                detail = f"gateway default ({default})"
            elif catalog.usable(tier.model) is False:
                detail = (f"{tier.model} is not usable here ({catalog.explain(tier.model)[1]}): "
                          f"host-mode spawns use the gateway's default model, {default}")
            else:
                detail = tier.model
            checks.append(Check(f"host mode: tier {tier.name}", OK, detail,
                                "set this tier's model in your config.yaml to one of: "
                                + ", ".join(catalog.usable_models()[:5])
                                if tier.model and catalog.usable(tier.model) is False else None))
    if local.workspace_only or local.sandboxed:
        why = "tools.fs.workspaceOnly is on" if local.workspace_only else \
            f"agents run sandboxed ({local.sandbox_mode})"
        checks.append(Check("host mode: prompt files", OK, f"{why}: plan puts each prompt inline "
                            "in its spawn (the host writes it out: more host tokens)"))
    else:
        checks.append(Check("host mode: prompt files", OK, "children read their prompt from a "
                            "file and write their answer to one (~200 host bytes per spawn)"))
    limit = local.max_children_per_agent
    window = min(config.max_concurrent, limit) if config is not None else limit
    checks.append(Check("host mode: window", OK, f"at most {window} spawns open at once "
                        f"(max_concurrent, and the gateway's maxChildrenPerAgent {limit})"))
    return checks


def _attach_check() -> Check:
    """Attached mode: can this process mint an attach grant? It tries: `openclaw attach --bin
    /bin/true` mints a grant, starts a program that exits at once, and revokes the grant."""
    import subprocess
    from parallel_agents.openclaw.hostenv import local_openclaw
    name = "attached mode"
    local = local_openclaw()
    if local is None or not local.openclaw_cli:
        return Check(name, SKIP, "the `openclaw` CLI is not on PATH here (an OpenClaw exec has it), "
                     "so --attach cannot mint a grant; host-agent mode (plan/check) works without it")
    if local.sandboxed and local.in_exec:
        return Check(name, SKIP, f"this exec may run sandboxed ({local.sandbox_mode}), away from the "
                     "gateway: use host-agent mode (plan/check)")
    command = [local.openclaw_cli, "attach", "--session", "main", "--ttl", "60000", "--bin", "/bin/true"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return Check(name, FAIL, f"`openclaw attach` could not run: {exc}",
                     "check the openclaw install, or use host-agent mode (plan/check)")
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-2:])[:300]
        return Check(name, FAIL, f"`openclaw attach` failed (exit {done.returncode}): {tail}",
                     "attached mode needs the local gateway running and a gateway token with "
                     "operator.admin in its config; or use host-agent mode (plan/check)")
    return Check(name, OK, "a grant can be minted and is revoked after use: `run --attach` works "
                 "here (a grant exposes all of the session's tools to this process while it runs)")


def _agents_from_gateway(caller) -> tuple[list[str], str] | None:
    """(the agent ids agents_list says this session may spawn as, where that came from), or None
    when the gateway does not offer agents_list."""
    from parallel_agents.core.errors import ParallelAgentsError
    if caller is None:
        return None
    try:
        listing = caller.call("agents_list", {})
    except ParallelAgentsError:  # 404 on a stock gateway: not in the coding profile
        return None
    rows = listing.get("agents") if isinstance(listing, dict) else None
    if not isinstance(rows, list):
        return None
    ids = [r["id"] for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
    return ids, f"the gateway's agents_list ({caller.base})"


def _privilege_checks(registry, caller=None) -> list[Check]:
    """Least privilege (module docstring): does every agent a definition names exist and may it
    be spawned as; is every agent a definition requires a sandbox of sandboxed."""
    from parallel_agents.openclaw.hostenv import local_openclaw
    from parallel_agents.core.paths import display
    named = [d for d in registry or () if d.agent_id or d.sandbox == "require"]
    if not named:
        return []
    local = local_openclaw()
    readable = local is not None and local.config_found and bool(local.config)
    roster = local.agent_roster() if readable else None
    listed = _agents_from_gateway(caller)
    if listed is None and roster is None:
        return [Check("least privilege", SKIP, f"{len(named)} agent definition(s) name an OpenClaw "
                      "agent or require a sandbox; neither the gateway's agents_list nor an OpenClaw "
                      "config is reachable from here to check them",
                      "run doctor where OpenClaw's config is (an OpenClaw exec), or set "
                      "OPENCLAW_CONFIG_PATH")]
    config_path = local.config_path if roster is not None else "openclaw.json"
    source = listed[1] if listed else str(config_path)
    checks = []
    for d in named:
        where = display(d.source) if d.source else d.name
        if d.agent_id:
            why = _agent_problem(d.agent_id, listed, roster)
            if why:
                checks.append(Check(f"least privilege: {d.name}", FAIL,
                                    f'agent_id "{d.agent_id}" ({where}): {why} (from {source}); '
                                    "OpenClaw refuses its spawns",
                                    _agent_fix(d.agent_id, roster, config_path, where)))
        if d.sandbox == "require" and roster is not None and not roster.sandboxed(d.agent_id):
            agent = d.agent_id or roster.requester
            mode = roster.sandbox_modes.get(agent, "off")
            checks.append(Check(f"least privilege: {d.name}", FAIL,
                                f'sandbox: require ({where}), but agent "{agent}" has sandbox.mode '
                                f'"{mode}" in {config_path}: OpenClaw refuses its spawns',
                                f'set sandbox.mode "all" (or "non-main") for agent "{agent}" in '
                                f"{config_path} (sandboxes need Docker), or remove sandbox from {where}"))
    if checks:
        return checks
    names = ", ".join(sorted(f"{d.name} -> {d.agent_id or 'the requesting agent'}"
                             + (" (sandboxed)" if d.sandbox == "require" else "") for d in named))
    return [Check("least privilege", OK, f"every agent the definitions run as exists and may be "
                  f"spawned ({source}): {names}")]


def _agent_problem(agent_id: str, listed, roster) -> str | None:
    if listed is not None:
        ids = listed[0]
        return None if agent_id in ids else \
            f"not among the agents this session may spawn as (allowed: {', '.join(ids) or 'none'})"
    return roster.refusal(agent_id)


def _agent_fix(agent_id: str, roster, config_path, where: str) -> str:
    """What to add to openclaw.json so that `agent_id` exists and may be spawned as."""
    if roster is None:
        steps = [f'make sure "{agent_id}" is in agents.list and in the requesting agent\'s '
                 "subagents.allowAgents"]
    else:
        steps = []
        if agent_id not in roster.configured:
            steps.append(f'add "{agent_id}": {{}} to agents.entries' if roster.roster_field == "agents.entries"
                         else f'add {{"id": "{agent_id}"}} to agents.list')
        allowed_any = roster.allow_agents is not None and "*" in roster.allow_agents
        if agent_id != roster.requester or roster.allow_agents is not None:
            if not allowed_any and agent_id not in (roster.allow_agents or ()):
                steps.append(f'add "{agent_id}" to {roster.allow_field}')
    return " and ".join(steps) + f" in {config_path}, or remove agent_id from {where}"


def run_checks(*, probe: bool = False, gateway: str | None = None,
               allow_insecure_http: bool = False) -> list[Check]:
    """Every check, in order. `gateway`: a gateway URL to check instead of the configured one."""
    checks = [_python(), _dependencies()]
    if checks[-1].state == FAIL:
        return checks
    registry_check, registry = _registry()
    config_check, config = _config()
    checks += [registry_check, config_check, _user_folder()]
    checks += _host_checks(config)
    checks.append(_attach_check())
    found: dict = {}
    checks += _gateway_checks(config, probe=probe, url=gateway,
                              allow_insecure_http=allow_insecure_http, found=found)
    checks += _privilege_checks(registry, found.get("caller"))
    return checks
