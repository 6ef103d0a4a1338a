"""The bad-input corpus: every user mistake we could think of, run through the real command line
(`python3 ai_orchestrator.py ...` in a subprocess, with its own PARALLEL_AGENTS_HOME).

Each case asserts what the CLI promises (parallel_agents/cli/main.py, errors.py):
- the exit code: 1 a file was checked and is invalid (config, agent definition), 2 bad usage or
  input that cannot be used (task files, arguments, unreadable files), 3 the environment lacks
  something (runtime, gateway access, a usable user folder);
- exactly one line on stderr, `error: FILE:LINE: FIELD: what is wrong (fix: ...)`, naming the
  file and/or the field (the fragments in `says`) and a fix; stdout empty;
- no "Traceback" anywhere;
- nothing written half-way: no journal, run file, installed agent or output appears in the user
  folder or the work folder. The exception is a run the gateway stopped after it started
  (wrong token, unreachable, spawning not allowed): its journal is complete up to that point,
  and the error names the `resume` command that finishes it.
Cases marked `json` run again with --json: the same error as one JSON document on stdout
({"error", "exit_code", "problems": [{message, file?, line?, field?, fix}]}) and the same line on
stderr.

In `files`, a name starting with "~/" goes into PARALLEL_AGENTS_HOME, any other into the case's
work folder (the CLI's working directory, so errors show the names as typed).
"""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from bad_input_case import REVIEW, RIGHT_TOKEN, RUN_TASKS, SIM, Case  # noqa: F401 (SIM, REVIEW: cases)
from gateway_process import start
from support import definition_text, free_port


def _laughs(levels: int = 8) -> str:
    """A YAML 'billion laughs': each anchor repeats the one before nine times."""
    lines = ['l0: &l0 "lol"']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def _task(extra: str = "", agent: str = "code_reviewer") -> str:
    return f"- id: a\n  agent: {agent}\n  task: Review it\n{extra}"


CYCLE = ("- {id: a, agent: code_reviewer, task: x, depends_on: [b]}\n"
         "- {id: b, agent: code_reviewer, task: y, depends_on: [a]}\n")
VALID_EXCEPT_NAME = definition_text("evil").replace("name: evil", "name: ../../evil")

CASES = {
    # -- task files: syntax, shape, types, keys ---------------------------------------------------
    "task file: broken YAML": Case(
        RUN_TASKS, 2, ("tasks.yaml:3:", "YAML syntax error", "fix the YAML syntax"),
        {"tasks.yaml": "- agent: code_reviewer\n  task: [unclosed\n"}, json=True),
    "task file: wrong type": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].priority", "must be int, not str"),
        {"tasks.yaml": _task("  priority: high\n")}),
    "task file: unknown key": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].colour", "unknown key 'colour'"),
        {"tasks.yaml": _task("  colour: red\n")}, json=True),
    "task file: a mapping, not a list": Case(
        RUN_TASKS, 2, ("tasks.yaml:1:", "non-empty list of tasks"), {"tasks.yaml": "just: a mapping\n"}),
    "task file: empty": Case(RUN_TASKS, 2, ("tasks.yaml:1:", "non-empty list"), {"tasks.yaml": ""}),
    "task file: not UTF-8": Case(
        RUN_TASKS, 2, ("tasks.yaml:3:", "not UTF-8", "save the file as UTF-8"),
        {"tasks.yaml": b"- id: a\n  agent: code_reviewer\n  task: caf\xe9\n"}),
    "task file: missing": Case(("run", "--tasks", "missing.yaml", SIM), 2,
                               ("missing.yaml:", "file not found", "check the path")),
    "task file: a folder": Case(("run", "--tasks", "folder", SIM), 2, ("folder:", "is a folder"),
                                {"folder/readme.txt": "not tasks"}),
    "task file: over 5 MB": Case(
        RUN_TASKS, 2, ("tasks.yaml:", "larger than the 5000000-byte limit", "split it"),
        {"tasks.yaml": _task("  input: {code: '" + "x" * 5_100_000 + "'}\n")}),
    "task file: YAML alias bomb": Case(
        RUN_TASKS, 2, ("tasks.yaml:", "aliases", "write the data out in full"),
        {"tasks.yaml": "anchors:\n" + "".join(f"  {line}\n" for line in _laughs().splitlines())
                       + "tasks:\n  - {agent: code_reviewer, task: x, input: {a: *l8}}\n"}),
    "task file: nested 50,000 deep": Case(
        ("run", "--tasks", "tasks.json", SIM), 2, ("tasks.json:", "nested more than 100 levels"),
        {"tasks.json": '[{"agent": "code_reviewer", "task": "x", "input": {"a": '
                       + "[" * 50_000 + "]" * 50_000 + "}}]"}),
    "task file with --input": Case(
        ("run", "--tasks", "tasks.yaml", "--input", "input.yaml", SIM), 2,
        ("--tasks", "go with --agent", "put task text and input in the task file"),
        {"tasks.yaml": _task(), "input.yaml": "a: 1\n"}),
    # -- task files: what only the registry, config and graph know ---------------------------------
    "task file: unknown agent type": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[1].agent", "unknown agent type 'code_reviwer'",
                       "did you mean code_reviewer"),
        {"tasks.yaml": _task() + "- agent: code_reviwer\n  task: Review it\n"}, json=True),
    "task file: path traversal as agent name": Case(
        RUN_TASKS, 2, ("tasks.yaml:2:", "tasks[0].agent", "unknown agent type '../../etc/passwd'"),
        {"tasks.yaml": _task(agent="../../etc/passwd")}),
    "task file: cyclic depends_on": Case(
        RUN_TASKS, 2, ("tasks.yaml:", "depends_on", "a -> b -> a", "remove one dependency"),
        {"tasks.yaml": CYCLE}),
    "task file: unknown dependency": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].depends_on", "unknown task 'zz'"),
        {"tasks.yaml": _task("  depends_on: [zz]\n")}),
    "task file: repeated id": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[1].id", "repeated: a", "its own task_id"),
        {"tasks.yaml": _task() + _task()}),
    "task file: unknown tier": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].tier", "unknown tier 'mega'", "fast, balanced"),
        {"tasks.yaml": _task("  tier: mega\n")}),
    "task file: unknown output_format": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].output_format", "'pdf'", "json, markdown"),
        {"tasks.yaml": _task("  output_format: pdf\n")}),
    "task file: input over max_input_bytes": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].input", "over the 200000-byte limit",
                       "raise max_input_bytes"),
        {"tasks.yaml": _task("  input: {code: '" + "x" * 250_000 + "'}\n")}),
    "task file: negative timeout": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].timeout_seconds", "-5", "at least 1"),
        {"tasks.yaml": _task("  timeout_seconds: -5\n")}),
    "task file: blank task text": Case(
        RUN_TASKS, 2, ("tasks.yaml:3:", "tasks[0].task", "task description is empty"),
        {"tasks.yaml": "- id: a\n  agent: code_reviewer\n  task: '   '\n"}),
    "task file: id with a line break": Case(
        RUN_TASKS, 2, ("tasks.yaml:1:", "tasks[0].id", "cannot be used", "no line breaks"),
        {"tasks.yaml": '- id: "a\\nb"\n  agent: code_reviewer\n  task: Review it\n'}),
    # -- one task on the command line ---------------------------------------------------------------
    "--agent: path traversal": Case(
        ("run", "--agent", "../../etc/passwd", "--task", "x", SIM), 2,
        ("--agent", "unknown agent type '../../etc/passwd'", "list"), json=True),
    "--agent without --task": Case(("run", "--agent", "code_reviewer", SIM), 2,
                                   ("--task", "--agent needs --task")),
    "--task blank": Case(("run", "--agent", "code_reviewer", "--task", "  ", SIM), 2,
                         ("--task", "task description is empty")),
    "--input: missing": Case(REVIEW + ("--input", "nope.yaml"), 2, ("nope.yaml:", "file not found")),
    "--input: not UTF-8": Case(REVIEW + ("--input", "input.yaml"), 2,
                               ("input.yaml:2:", "not UTF-8"),
                               {"input.yaml": b"a: 1\nb: \xff\xfe\n"}),
    "--input: a list": Case(REVIEW + ("--input", "input.yaml"), 2,
                            ("input.yaml:1:", "must be a mapping"), {"input.yaml": "- a\n- b\n"}),
    "--input: over max_input_bytes": Case(
        REVIEW + ("--input", "input.yaml"), 2,
        ("input.yaml:", "--input", "over the 200000-byte limit", "send a summary"),
        {"input.yaml": "code: '" + "x" * 300_000 + "'\n"}, json=True),
    "--input: over the file limit": Case(
        REVIEW + ("--input", "input.yaml"), 2, ("input.yaml:", "larger than the 1048576-byte limit"),
        {"input.yaml": "code: '" + "x" * 1_100_000 + "'\n"}),
    "--input: path traversal to a folder": Case(
        REVIEW + ("--input", "../../../../../../../.."), 2, ("../../../../../../../..:", "is a folder")),
    "--input: a date": Case(REVIEW + ("--input", "input.yaml"), 2,
                            ("input.yaml:", "--input", "type date"), {"input.yaml": "when: 2024-01-01\n"}),
    "--input: keys of mixed types": Case(
        REVIEW + ("--input", "input.yaml"), 2, ("input.yaml:", "--input", "keys of different types",
                                                "quote the keys"),
        {"input.yaml": "1: one\ntwo: 2\n"}),
    "--input: YAML alias bomb": Case(REVIEW + ("--input", "input.yaml"), 2,
                                     ("input.yaml:", "aliases"), {"input.yaml": _laughs()}),
    "--max-concurrent 0": Case(REVIEW + ("--max-concurrent", "0"), 2,
                               ("--max-concurrent", "must be at least 1"), json=True),
    "--max-concurrent not a number": Case(REVIEW + ("--max-concurrent", "lots"), 2,
                                          ("--max-concurrent", "'lots' is not a whole number")),
    "--budget negative": Case(REVIEW + ("--budget", "-1"), 2, ("--budget", "must be more than 0")),
    "show: path traversal": Case(("show", "../../etc/passwd"), 2, ("unknown agent type",)),
    # -- the user's config and agents folder ---------------------------------------------------
    "config: value out of range": Case(
        REVIEW, 1, ("config.yaml:1:", "max_concurrent", "0 is less than the minimum of 1",
                    "use at least 1"), {"~/config.yaml": "max_concurrent: 0\n"}, json=True),
    "config: wrong type": Case(REVIEW, 1, ("config.yaml:1:", "tiers", "make it a list"),
                               {"~/config.yaml": "tiers: fast\n"}),
    "config: unknown key": Case(REVIEW, 1, ("config.yaml:1:", "colour", "unknown key", "allowed keys"),
                                {"~/config.yaml": "colour: red\n"}),
    "config: broken YAML": Case(REVIEW, 1, ("config.yaml:", "YAML syntax error"),
                                {"~/config.yaml": "max_concurrent: [5\n"}),
    "config: not UTF-8": Case(REVIEW, 2, ("config.yaml:1:", "not UTF-8"),
                              {"~/config.yaml": b"max_concurrent: 5 # \xe9\n"}),
    "overlay agent: path traversal in its name": Case(
        REVIEW, 1, ("evil.yaml:", "name", "'../../evil' does not match", "lower snake case"),
        {"~/agents/evil.yaml": VALID_EXCEPT_NAME}),
    "overlay agents folder is a file": Case(REVIEW, 3, ("agents:", "is a file", "move the file away"),
                                            {"~/agents": "not a folder"}),
    "user folder is a file": Case(REVIEW, 3, ("runs:", "Not a directory", "PARALLEL_AGENTS_HOME"),
                                  {"home-file": "x"}, env={"PARALLEL_AGENTS_HOME": "{work}/home-file"}),
    # -- workflows, releases, resume, host mode --------------------------------------------------
    "install-agent: path traversal in the name": Case(
        ("install-agent", "evil.yaml"), 1, ("evil.yaml:", "name", "'../../evil' does not match"),
        {"evil.yaml": VALID_EXCEPT_NAME}, json=True),
    "create-agents: --out is a file": Case(
        ("create-agents", "requests.yaml", "--out", "taken", SIM), 2,
        ("taken:", "--out", "is a file, not a folder"),
        {"requests.yaml": "- name: bug_hunter\n  purpose: Find bugs\n", "taken": "a file"}),
    "refine: missing file": Case(("refine", "nope.yaml", SIM), 2, ("nope.yaml:", "file not found")),
    "review team: missing code file": Case(("run", "--team", "review", "--code", "nope.py", SIM), 2,
                                           ("nope.py:", "file not found")),
    "package: --out is a file": Case(("package", "--out", "taken"), 2, ("taken:", "--out", "is a file"),
                                     {"taken": "a file"}),
    "upgrade: not a zip": Case(("upgrade", "fake.zip", "--target", "skill"), 2, ("--target",),
                               {"fake.zip": "not a zip"}),
    "install --from: not a zip": Case(("install", "--from", "fake.zip", "--target", "skill"), 1,
                                      ("fake.zip:", "not a readable zip"), {"fake.zip": "not a zip"}),
    "resume: path traversal": Case(("resume", "../../etc/passwd", SIM), 2,
                                   ("run_id", "invalid run id")),
    "resume: unknown run": Case(("resume", "20260101-000000-abcdef", SIM), 2,
                                ("no journal for run", "runs")),
    "check: path traversal as plan id": Case(("check", "--plan", "../x"), 2, ("--plan", "invalid")),
    "plan: cyclic depends_on": Case(("plan", "--tasks", "tasks.yaml"), 2,
                                    ("tasks.yaml:", "depends_on", "a -> b -> a"), {"tasks.yaml": CYCLE}),
    # -- runtime and gateway -------------------------------------------------------------------
    "no runtime": Case(("run", "--agent", "code_reviewer", "--task", "x"), 3,
                       ("no OpenClaw runtime", "OPENCLAW_GATEWAY_URL", "--simulate")),
    "gateway: URL not http": Case(
        ("run", "--agent", "code_reviewer", "--task", "x"), 3,
        ("OPENCLAW_GATEWAY_URL", "not an http(s) URL"),
        env={"OPENCLAW_GATEWAY_URL": "ftp://127.0.0.1/", "OPENCLAW_GATEWAY_TOKEN": "some-token"}),
    "gateway: no token": Case(
        ("run", "--agent", "code_reviewer", "--task", "x"), 3, ("OPENCLAW_GATEWAY_TOKEN", "no gateway token"),
        env={"OPENCLAW_GATEWAY_URL": "{gateway}", "OPENCLAW_GATEWAY_TOKEN": ""}),
    "gateway: plain http to another host": Case(
        ("run", "--agent", "code_reviewer", "--task", "x"), 3, ("OPENCLAW_GATEWAY_URL", "unencrypted"),
        env={"OPENCLAW_GATEWAY_URL": "http://203.0.113.9:18789", "OPENCLAW_GATEWAY_TOKEN": "some-token"}),
    "gateway: unreachable (closed port)": Case(
        ("run", "--agent", "code_reviewer", "--task", "x"), 3,
        ("not reachable", "OPENCLAW_GATEWAY_URL", "resume"),
        env={"OPENCLAW_GATEWAY_URL": "{closed}", "OPENCLAW_GATEWAY_TOKEN": "some-token"}, json=True, journal=True),
    "gateway: wrong token": Case(
        ("run", "--agent", "code_reviewer", "--task", "x"), 3,
        ("refused the token (401)", "OPENCLAW_GATEWAY_TOKEN", "resume"),
        env={"OPENCLAW_GATEWAY_URL": "{gateway}", "OPENCLAW_GATEWAY_TOKEN": "not-the-token"},
        json=True, journal=True),
    "gateway: sessions_spawn not allowed": Case(
        ("run", "--agent", "code_reviewer", "--task", "x"), 3,
        ("(404)", "gateway.tools.allow", "resume"),
        env={"OPENCLAW_GATEWAY_URL": "{denying}", "OPENCLAW_GATEWAY_TOKEN": RIGHT_TOKEN}, journal=True),
}


# More cases live beside this file, one module per area (tests/bad_input_*.py, each with a CASES
# dict of Case): merged here, so the harness below runs them all.
for _module in sorted(Path(__file__).parent.glob("bad_input_*.py")):
    if _module.stem != "bad_input_case":
        _more = importlib.import_module(_module.stem).CASES
        assert not set(_more) & set(CASES), f"{_module.name} repeats a case name"
        CASES.update(_more)


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 30
    assert {c.code for c in CASES.values()} == {1, 2, 3}
    assert sum(c.json for c in CASES.values()) >= 5


# -- the harness ----------------------------------------------------------------------------------

class _Gateways:
    """The fake gateways the gateway cases need, started on first use, once for the module."""

    def __init__(self, folder: Path):
        self.folder, self.started = folder, {}

    def url(self, which: str) -> str:
        if which == "closed":
            return f"http://127.0.0.1:{free_port()}"
        if which not in self.started:
            extra = ("--deny", "sessions_spawn") if which == "denying" else ()
            self.started[which] = start(self.folder, RIGHT_TOKEN, *extra)
        return self.started[which].url


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    found = _Gateways(tmp_path_factory.mktemp("gateways"))
    yield found
    for gateway in found.started.values():
        gateway.stop()


def _files(*folders: Path, skip: Path | None = None) -> dict[str, bytes]:
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file() and (skip is None or skip not in path.parents):
                out[str(path)] = path.read_bytes()
    return out


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    line = lines[0]
    assert line.startswith(("error: ", "ai_orchestrator.py ")), line
    assert "(fix: " in line or line.endswith("(see --help)"), f"no fix in: {line}"
    return line


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, pa_home, warm_cache, tmp_path, run_cli, gateways, monkeypatch):
    case = CASES[name]
    work = tmp_path / "work"
    work.mkdir()
    for rel, content in case.files.items():
        path = pa_home / rel[2:] if rel.startswith("~/") else work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    monkeypatch.delenv("OPENCLAW_GATEWAY_URL", raising=False)
    monkeypatch.delenv("OPENCLAW_GATEWAY_TOKEN", raising=False)
    env = {key: re.sub(r"\{(gateway|denying|closed)\}", lambda m: gateways.url(m.group(1)),
                       value.replace("{work}", str(work))) for key, value in case.env.items()}
    before = _files(pa_home, work, skip=pa_home / "cache")

    for as_json in (False, True) if case.json else (False,):
        code, out, err = run_cli(*case.args, *(["--json"] if as_json else []), env=env, cwd=work)

        assert code == case.code, (out, err)
        assert "Traceback" not in out + err
        line = _error_line(err)
        for fragment in case.says:
            assert fragment in line, f"{fragment!r} not in: {line}"
        if as_json:
            data = json.loads(out)
            assert data["exit_code"] == code and data["error"]
            (problem,) = data["problems"]
            assert problem["message"] in line and problem["fix"]
            assert problem.get("file") or problem.get("field")
        else:
            assert out == ""
        _nothing_half_written(case, before, _files(pa_home, work, skip=pa_home / "cache"),
                              pa_home, line)
        before = _files(pa_home, work, skip=pa_home / "cache")


def _nothing_half_written(case: Case, before: dict, after: dict, home: Path, line: str) -> None:
    new = sorted(set(after) - set(before))
    assert {k: v for k, v in before.items() if k in after} == {k: after[k] for k in before if k in after}
    assert set(before) <= set(after)
    if not case.journal:
        assert new == [], f"written by a command that failed: {new}"
        return
    # the run started, then the gateway stopped it: one complete journal, and the way to finish
    (journal,) = new
    run_id = Path(journal).stem
    assert Path(journal).parent == home / "runs"
    assert f"resume {run_id}" in line
    records = [json.loads(raw) for raw in Path(journal).read_text(encoding="utf-8").splitlines()]
    assert records[0]["type"] == "run_started" and len(records[0]["tasks"]) == 1
    assert not any(r["type"] == "run_finished" for r in records)
