"""Attached mode: a whole fan-out is one exec, through an OpenClaw attach grant.

`run … --attach [SESSION]` (and resume, the team/goal runs, refine, create-agents) re-runs the
same command under `openclaw attach --session SESSION --ttl MS --bin <wrapper>`. OpenClaw's CLI
(authenticated by the local gateway config, as any local `openclaw` command) mints a grant bound
to that session (the main session by default), writes a `.mcp.json` naming the gateway's
loopback MCP endpoint, and starts the wrapper as `<wrapper> --strict-mcp-config --mcp-config
<path>` with the grant's token in OPENCLAW_MCP_TOKEN; when the wrapper exits, it revokes the
grant. The wrapper runs `ai_orchestrator.py _attached …` (cli/attach.py child_main): the command,
read from a spec file, runs on an OpenClawRuntime over the grant (mcp.py) with Swarm collectors,
collected by `agents_wait`, which returns each child's whole reply and its token usage (so costs
are real).

Why this door: no gateway configuration change (the HTTP deny list that keeps sessions_spawn off
`/tools/invoke` does not apply to a grant), children are the bound session's own, collectors
run there (over `/tools/invoke` they stay queued), and the grant lives exactly as long as the run.
Trust: a grant exposes every tool of the session's agent (sessions_send included) to this
process for its lifetime, and minting one needs the gateway token's operator.admin scope.

The command's output reaches the caller through a file the child writes (OpenClaw's CLI prints
its own lines on the same stdout); its progress lines pass through on stderr. `--detach` starts
it in a session of its own and returns at once; `runs RUN_ID --wait` collects the result later
(a host's exec is killed after tools.exec.timeoutSeconds, 1800 s by default).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from parallel_agents.core.errors import EnvironmentProblem
from parallel_agents.core.paths import SKILL_DIR, runs_dir, user_home

SPEC_ENV = "PARALLEL_AGENTS_ATTACH_SPEC"
TOKEN_ENV = "OPENCLAW_MCP_TOKEN"
CHILD_COMMAND = "_attached"
GRANT_TTL_MIN_MS = 60 * 60 * 1000          # OpenClaw's own default grant lifetime
GRANT_TTL_MAX_MS = 12 * 60 * 60 * 1000     # the gateway's ceiling
_OUR_OPTIONS = ("--attach", "--detach")


def child_argv(argv: list[str], session: str | None) -> list[str]:
    """`argv` without --attach [SESSION] and --detach: the command the child runs."""
    out, skip = [], False
    for i, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word == "--detach" or word.startswith("--attach="):
            continue
        if word == "--attach":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            skip = nxt is not None and nxt == session and not nxt.startswith("-")
            continue
        out.append(word)
    return out


def grant_ttl_ms(task_timeouts: list[int], tiers: int, max_concurrent: int) -> int:
    """The grant's lifetime: the run's worst case (every task on every tier, twice, in waves of
    max_concurrent), at least OpenClaw's default hour, at most its 12 h ceiling. The grant is
    revoked when the run ends; the TTL only bounds a grant whose revoker was killed."""
    waves = -(-len(task_timeouts) // max(1, max_concurrent)) if task_timeouts else 1
    worst = max(task_timeouts or [600]) * 2 * max(1, tiers) * waves * 1000
    return int(min(GRANT_TTL_MAX_MS, max(GRANT_TTL_MIN_MS, worst)))


class Launch:
    """One attached run: its spec file, the wrapper OpenClaw starts, and the output file."""

    def __init__(self, argv: list[str], session: str, *, run_id: str | None, ttl_ms: int,
                 hold: bool = False):
        folder = runs_dir() / ".attach"
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        stem = run_id or secrets.token_hex(6)
        self.spec_path = folder / f"{stem}.json"
        self.output_path = folder / f"{stem}.out"
        self.log_path = folder / f"{stem}.log"
        self.grant_path = folder / f"{stem}.grant"
        self.session, self.run_id, self.ttl_ms = session, run_id, ttl_ms
        self.spec = {"argv": argv, "output": str(self.output_path), "session": session,
                     "run_id": run_id}
        if hold:   # the child only hands the grant over and holds it (attached_runtime)
            self.spec["hold"] = str(self.grant_path)
        write_private(self.spec_path, json.dumps(self.spec))
        self.output_path.unlink(missing_ok=True)
        self.wrapper = _wrapper()

    def command(self, cli: str) -> list[str]:
        return [cli, "attach", "--session", self.session, "--ttl", str(self.ttl_ms),
                "--bin", str(self.wrapper)]

    def environ(self) -> dict:
        return {**os.environ, SPEC_ENV: str(self.spec_path)}

    def run(self, cli: str, err) -> tuple[int, str]:
        """Run it in the foreground: (exit code, OpenClaw's own output, for errors)."""
        proc = subprocess.Popen(self.command(cli), env=self.environ(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                errors="replace")
        tail: list[str] = []
        threads = [threading.Thread(target=_pump, args=(proc.stdout, None, tail), daemon=True),
                   threading.Thread(target=_pump, args=(proc.stderr, err, tail), daemon=True)]
        for thread in threads:
            thread.start()
        try:
            code = proc.wait()
        except KeyboardInterrupt:   # OpenClaw's CLI ignores SIGINT and passes SIGTERM on
            proc.terminate()
            proc.wait(timeout=30)
            raise
        for thread in threads:
            thread.join(timeout=5)
        return code, "\n".join(tail[-20:])

    def start_detached(self, cli: str) -> int:
        """Start it in a session of its own (an exec's kill cannot reach it); its pid."""
        with open(self.log_path, "ab") as log:
            os.chmod(self.log_path, 0o600)
            proc = subprocess.Popen(self.command(cli), env=self.environ(), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        self.spec["pid"] = proc.pid
        write_private(self.spec_path, json.dumps(self.spec))
        return proc.pid

    def output(self) -> str | None:
        try:
            return self.output_path.read_text(encoding="utf-8")
        except OSError:
            return None

    def clean(self) -> None:
        for path in (self.spec_path, self.output_path, self.grant_path):
            path.unlink(missing_ok=True)


def _pump(stream, sink, tail: list[str]) -> None:
    """Copy OpenClaw's output lines: stderr (the child's progress, OpenClaw's errors) to `sink`,
    and keep the last lines of both for an error message."""
    for line in stream:
        line = line.rstrip("\n")
        if line.startswith("Attaching Claude Code to session"):
            continue   # OpenClaw's own banner (it launches "Claude Code": here, our child)
        tail.append(line)
        del tail[:-40]
        if sink is not None:
            sink(line)


def write_private(path: Path, text: str) -> None:
    """Write `path` readable by this user only (a spec, a grant), atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _wrapper() -> Path:
    """The program OpenClaw starts with the grant: this skill's CLI, by this interpreter."""
    folder = user_home() / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "attached-run"
    script = ("#!/bin/sh\n# written by parallel-agents: `openclaw attach --bin` runs this with a grant\n"
              f"exec {shlex.quote(sys.executable)} {shlex.quote(str(SKILL_DIR / 'ai_orchestrator.py'))} "
              f"{CHILD_COMMAND} \"$@\"\n")
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != script:
        write_private(path, script)
    os.chmod(path, 0o700)
    return path


def openclaw_cli() -> str:
    """The `openclaw` CLI that mints grants, or EnvironmentProblem naming the fix."""
    from parallel_agents.openclaw.hostenv import local_openclaw
    local = local_openclaw()
    cli = local.openclaw_cli if local is not None else None
    if not cli:
        raise EnvironmentProblem("attached mode needs the `openclaw` CLI, and it is not on PATH",
                                 field="--attach", fix="run this from an OpenClaw exec (its PATH has "
                                 "the CLI), put `openclaw` on PATH, or drop --attach (host-agent "
                                 "mode: plan/check; script mode: --gateway)")
    return cli


# -- the Python API: a runtime over a grant held for a `with` block --------------------------------
@contextlib.contextmanager
def attached_runtime(session: str = "main", *, ttl_ms: int = 2 * GRANT_TTL_MIN_MS,
                     start_timeout_s: float = 120.0):
    """`with attached_runtime() as runtime:` - an OpenClawRuntime (Swarm collectors) over an
    attach grant bound to `session`, held for the block and revoked when it ends; what `--attach`
    does for a command. Pass it as RealAIParallelOrchestrator(runtime=...). The grant is minted
    the same way (`openclaw attach --bin`), so its token never appears in a command line: our
    program hands it over through a private file and holds the grant until this block closes
    its stdin."""
    from parallel_agents.openclaw.mcp import McpToolCaller
    from parallel_agents.openclaw.runtime import OpenClawRuntime
    cli = openclaw_cli()
    job = Launch([], session, run_id=None, ttl_ms=ttl_ms, hold=True)
    proc = subprocess.Popen(job.command(cli), env=job.environ(), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        grant = _await_grant(job, proc, start_timeout_s)
        job.grant_path.unlink(missing_ok=True)
        yield OpenClawRuntime(McpToolCaller(grant["url"], grant["token"]), collection="collector",
                              requester_session_key=session)
    finally:
        if proc.stdin:
            proc.stdin.close()             # our program exits; OpenClaw revokes the grant
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
        job.clean()


def _await_grant(job: Launch, proc: subprocess.Popen, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if job.grant_path.exists():
            try:
                return json.loads(job.grant_path.read_text(encoding="utf-8"))
            except ValueError:
                pass                       # being written
        if proc.poll() is not None:
            said = " ".join((proc.stderr.read() if proc.stderr else "").split())[-300:]
            raise EnvironmentProblem(f"openclaw attach failed (exit {proc.returncode}): {said or 'no output'}",
                                     field="attach", fix="run `python3 ai_orchestrator.py doctor`")
        time.sleep(0.05)
    proc.terminate()
    raise EnvironmentProblem(f"openclaw attach gave no grant within {timeout_s:g}s", field="attach",
                             fix="check the gateway (`openclaw status`) and run doctor")
