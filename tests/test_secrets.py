"""The gateway token never leaves the process: every command runs with a recognisable canary as
OPENCLAW_GATEWAY_TOKEN against the fake gateway over real HTTP (tests/gateway_process.py), on the
happy paths (run, plan, check, doctor with and without --probe, runs, resume) and the error
paths (the gateway wants another token, sessions_spawn denied with 404, nothing listening), in
text and --json. Then the canary must appear in no stdout, no stderr and no file under
PARALLEL_AGENTS_HOME (journals, plans, cache), and no command may show exception text.

The commands run once for the module (`transcript`); each test reads what they left."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from gateway_process import CONFIG_MODELS, start
from support import free_port, run_cli as _run_cli

CANARY = "sk-CANARY-7f3a9c1e5b2d4086"
MARKS = (CANARY, "CANARY", CANARY[-16:])   # also a cut-off copy, or the random tail on its own
AGENT, TASK = "documentation_writer", "Write the README of a tool that tidies CSV files."
REPLY = "# csvtidy\n\nTidies CSV files: trims cells and removes duplicate rows.\n"

# (label, arguments, which gateway, expected exit code); "{...}" is filled from earlier answers
COMMANDS = [
    ("run", ["run", "--agent", AGENT, "--task", TASK], "good", 0),
    ("run --json", ["run", "--agent", AGENT, "--task", TASK, "--json"], "good", 0),
    ("plan --json", ["plan", "--agent", AGENT, "--task", TASK, "--json"], "good", 0),
    ("plan", ["plan", "--agent", AGENT, "--task", "Write a CHANGELOG entry."], "good", 0),
    ("check --json", ["check", "--plan", "{plan_id}", "--task", "{task_id}", "{reply}", "--json"], "good", 0),
    ("check", ["check", "--plan", "{plan_id}", "--task", "{task_id}", "{reply}"], "good", 0),
    ("doctor", ["doctor"], "good", 0),
    ("doctor --json", ["doctor", "--json"], "good", 0),
    ("doctor --probe", ["doctor", "--probe"], "good", 0),
    ("doctor --probe --json", ["doctor", "--probe", "--json"], "good", 0),
    ("wrong token: run", ["run", "--agent", AGENT, "--task", TASK], "wrong", 3),
    ("wrong token: run --json", ["run", "--agent", AGENT, "--task", "Other.", "--json"], "wrong", 3),
    ("wrong token: doctor", ["doctor"], "wrong", 1),
    ("wrong token: doctor --probe --json", ["doctor", "--probe", "--json"], "wrong", 1),
    ("resume", ["resume", "{aborted}"], "good", 0),
    ("resume --json", ["resume", "{aborted_json}", "--json"], "good", 0),
    ("spawn denied: run", ["run", "--agent", AGENT, "--task", TASK], "denying", 3),
    ("spawn denied: run --json", ["run", "--agent", AGENT, "--task", TASK, "--json"], "denying", 3),
    ("spawn denied: doctor --probe", ["doctor", "--probe"], "denying", 1),
    ("unreachable: run", ["run", "--agent", AGENT, "--task", TASK], "closed", 3),
    ("unreachable: run --json", ["run", "--agent", AGENT, "--task", TASK, "--json"], "closed", 3),
    ("unreachable: doctor --json", ["doctor", "--json"], "closed", 1),
    ("unreachable: resume", ["resume", "{unreachable}"], "closed", 3),
    ("runs", ["runs"], "good", 0),
    ("runs --json", ["runs", "--json"], "good", 0),
]


def leaks(texts: dict[str, str | bytes]) -> list[str]:
    """The names of the texts that hold the canary, or a recognisable piece of it."""
    found = []
    for name, text in texts.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
        if any(mark.encode() in data for mark in MARKS):
            found.append(name)
    return found


def _run_id(err: str) -> str:
    return re.search(r"resume (\d{8}-\d{6}-[0-9a-f]{6})", err).group(1)


@pytest.fixture(scope="module")
def transcript(tmp_path_factory, _validated_cache_file):
    """{label: (exit code, stdout, stderr)} of COMMANDS, and the user folder they used."""
    folder = tmp_path_factory.mktemp("secrets")
    home = folder / "home"
    (home / "cache").mkdir(parents=True)
    shutil.copyfile(_validated_cache_file, home / "cache" / _validated_cache_file.name)
    (folder / "reply.md").write_text(REPLY, encoding="utf-8")
    gateways = {"good": start(folder, CANARY, "--models", ",".join(CONFIG_MODELS)),
                "wrong": start(folder, "the-gateway-wants-another-token"),
                "denying": start(folder, CANARY, "--deny", "sessions_spawn")}
    urls = {name: g.url for name, g in gateways.items()}
    urls["closed"] = f"http://127.0.0.1:{free_port()}"
    filled = {"reply": str(folder / "reply.md")}
    answers = {}
    try:
        for label, args, gateway, _ in COMMANDS:
            env = {"PARALLEL_AGENTS_HOME": str(home), "OPENCLAW_STATE_DIR": str(folder / "state"),
                   "OPENCLAW_GATEWAY_URL": urls[gateway], "OPENCLAW_GATEWAY_TOKEN": CANARY,
                   "PARALLEL_AGENTS_DEBUG": ""}
            code, out, err = _run_cli(*[a.format(**filled) for a in args], env=env, cwd=folder)
            answers[label] = (code, out, err)
            if label == "plan --json" and code == 0:
                plan = json.loads(out)
                filled.update(plan_id=plan["plan_id"], task_id=plan["spawn"][0]["task_id"])
            elif label == "wrong token: run" and code == 3:
                filled["aborted"] = _run_id(err)
            elif label == "wrong token: run --json" and code == 3:
                filled["aborted_json"] = _run_id(err)
            elif label == "unreachable: run" and code == 3:
                filled["unreachable"] = _run_id(err)
    finally:
        for gateway in gateways.values():
            gateway.stop()
    return answers, home


@pytest.mark.parametrize("label,expected", [(c[0], c[3]) for c in COMMANDS])
def test_each_command_ran_and_kept_the_token_to_itself(transcript, label, expected):
    answers, _ = transcript
    code, out, err = answers[label]
    assert code == expected, (out, err)
    assert leaks({"stdout": out, "stderr": err}) == []
    for text in (out, err):
        assert "Traceback" not in text and "internal error" not in text
        assert "[redacted]" not in text   # nothing had to be hidden: it was never put in


def test_the_failures_said_what_to_fix(transcript):
    answers, _ = transcript
    assert "OPENCLAW_GATEWAY_TOKEN" in answers["wrong token: run"][2]
    assert json.loads(answers["wrong token: run --json"][1])["error"] == "RunAborted"
    assert "gateway.tools.allow" in answers["spawn denied: run"][2]
    assert "not reachable" in answers["unreachable: run"][2]
    checks = {c["name"]: c for c in json.loads(answers["unreachable: doctor --json"][1])["checks"]}
    assert checks["gateway reachable"]["state"] == "fail"
    probe = {c["name"]: c["state"] for c in json.loads(answers["doctor --probe --json"][1])["checks"]}
    assert probe["tier fast"] == probe["tier balanced"] == probe["tier strongest"] == "ok"
    resumed = json.loads(answers["resume --json"][1])
    assert resumed["counts"] == {"completed": 1}


def test_no_file_in_the_user_folder_holds_the_token(transcript):
    _, home = transcript
    files = {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}
    journals = [name for name in files if name.startswith("runs/") and name.endswith(".jsonl")]
    assert len(journals) >= 9   # 2 runs, 2 plans, 2 aborted and resumed, 2 denied, 1 unreachable...
    assert leaks(files) == []


def test_the_leak_check_finds_the_token_when_it_is_there():
    """The check above can fail: a whole token, a cut-off one, and its tail are all found."""
    assert leaks({"a": f"Authorization: Bearer {CANARY}", "b": CANARY[:12] + "…",
                  "c": b"token=" + CANARY[-16:].encode(), "d": "nothing here"}) == ["a", "b", "c"]
