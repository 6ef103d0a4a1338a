"""parallel_agents.openclaw.local: the local OpenClaw install as an exec'd process sees it.

Every test builds its own environment (HOME, OPENCLAW_STATE_DIR, PATH) in tmp_path and passes it
to discover(); `openclaw` on PATH is a fake script that prints canned JSON and logs each call,
so caching and its invalidation are counted, not assumed. The canned catalog mirrors what
`openclaw models list --all --json` printed on openclaw 2026.9.6 (tests/integration/
test_openclaw_local_live.py checks the same behaviour on the real CLI).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import pytest

from parallel_agents.core.errors import ConfigError, EnvironmentProblem, ToolError
from parallel_agents.openclaw.json5 import OpenClawConfigError, parse_json5, read_json5
from parallel_agents.openclaw.local import NO_AUTH_BEARER, discover
from parallel_agents.openclaw.models import ModelCatalog, ModelRow

from support import free_port  # noqa: E402

CANARY = "tok-CANARY-5e1d7c0a9b"


# -- helpers ------------------------------------------------------------------------------------
def environ(tmp_path: Path, **extra: str) -> dict:
    """An exec'd process's environment: isolated HOME and state dir, PATH = tmp_path/bin only."""
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "bin").mkdir(exist_ok=True)
    return {"HOME": str(tmp_path / "home"), "OPENCLAW_STATE_DIR": str(tmp_path / "state"),
            "PATH": str(tmp_path / "bin"), **extra}


def write_config(tmp_path: Path, text: str, name: str = "openclaw.json") -> Path:
    path = tmp_path / "state" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ROWS = [  # as printed by the real CLI (keys, available, tags), plus rows for the other verdicts
    {"key": "scripted/balanced", "name": "Scripted balanced", "input": "text", "contextWindow": 128000,
     "local": True, "available": True, "tags": []},
    {"key": "scripted/fast", "name": "Scripted fast", "input": "text", "contextWindow": 128000,
     "local": True, "available": True, "tags": ["default", "configured", "alias:quick"]},
    {"key": "claude-cli/claude-sonnet-5", "name": "Claude Sonnet 5 (Claude CLI)", "input": "text+image",
     "contextWindow": 1000000, "local": None, "available": False, "tags": []},
    {"key": "anthropic/claude-opus-5", "name": "Claude Opus 5", "input": "text+image",
     "contextWindow": 1000000, "local": False, "available": True, "tags": []},
]
CATALOG_JSON = json.dumps({"count": len(ROWS), "models": ROWS}, indent=2) + "\n"


class FakeCli:
    """`openclaw` in tmp_path/bin: logs each call (argv + the OPENCLAW_CONFIG_PATH it saw) to
    calls.log, then sleeps / prints / exits as behaviour.json says."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "openclaw"
        self.path.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys, time, pathlib\n"
            "here = pathlib.Path(__file__).resolve().parent\n"
            "with open(here / 'calls.log', 'a') as log:\n"
            "    log.write(json.dumps({'argv': sys.argv[1:], 'pid': os.getpid(),\n"
            "                          'config': os.environ.get('OPENCLAW_CONFIG_PATH')}) + '\\n')\n"
            "spec = json.loads((here / 'behaviour.json').read_text())\n"
            "time.sleep(spec.get('sleep', 0))\n"
            "sys.stdout.write(spec.get('stdout', '')); sys.stderr.write(spec.get('stderr', ''))\n"
            "sys.exit(spec.get('exit', 0))\n", encoding="utf-8")
        self.path.chmod(0o755)
        self.behave(stdout=CATALOG_JSON)

    def behave(self, **spec) -> None:
        (self.folder / "behaviour.json").write_text(json.dumps(spec), encoding="utf-8")

    def calls(self) -> list[dict]:
        log = self.folder / "calls.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def cli(tmp_path) -> FakeCli:
    environ(tmp_path)
    return FakeCli(tmp_path / "bin")


# -- JSON5 ----------------------------------------------------------------------------------------
JSON5_CORPUS = [
    ('{"a": 1, "b": [true, false, null], "c": "x"}', {"a": 1, "b": [True, False, None], "c": "x"}),
    ("// a comment\n{a: 1, /* inline */ b: 2} // after", {"a": 1, "b": 2}),
    ("{\n  a: 1,\n  b: [1, 2, 3,],\n}\n", {"a": 1, "b": [1, 2, 3]}),
    ("{$key: 1, _under: 2, camelCase3: 3, 'single': 4, \"double\": 5}",
     {"$key": 1, "_under": 2, "camelCase3": 3, "single": 4, "double": 5}),
    ("{s: 'it\\'s \"quoted\"', d: \"it's\"}", {"s": "it's \"quoted\"", "d": "it's"}),
    ("{hex: 0x1F, neg: -0XA, plus: +3, lead: .5, trail: 5., exp: 1e3, negexp: -2.5E-1}",
     {"hex": 31, "neg": -10, "plus": 3, "lead": 0.5, "trail": 5.0, "exp": 1000.0, "negexp": -0.25}),
    ("{inf: Infinity, ninf: -Infinity}", {"inf": math.inf, "ninf": -math.inf}),
    ("{e: '\\x41\\u00e9\\uD83D\\uDE00\\n\\t\\0\\/\\v'}", {"e": "A\u00e9\U0001F600\n\t\0/\v"}),
    ("{long: 'one \\\ntwo'}", {"long": "one two"}),
    ("{gateway: {auth: {mode: 'token', token: 'abc'}, tools: {allow: ['sessions_spawn',],},},}",
     {"gateway": {"auth": {"mode": "token", "token": "abc"}, "tools": {"allow": ["sessions_spawn"]}}}),
    ("{a: 1, a: 2}", {"a": 2}),                                   # last one wins, as JSON.parse
    ("{ }", {}),
    ("{a: [], b: {}, c: [[{}]]}", {"a": [], "b": {}, "c": [[{}]]}),
    ("{url: 'http://x/y', c: '/* not a comment */', d: '// nor this'}",
     {"url": "http://x/y", "c": "/* not a comment */", "d": "// nor this"}),
]


@pytest.mark.parametrize("text, expected", JSON5_CORPUS)
def test_json5_corpus(tmp_path, text, expected):
    path = tmp_path / "c.json5"
    path.write_text(text, encoding="utf-8")
    assert read_json5(path) == expected


def test_json5_nan_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "c.json5"
    path.write_text("\ufeff{n: NaN, m: -NaN}", encoding="utf-8")
    data = read_json5(path)
    assert math.isnan(data["n"]) and math.isnan(data["m"])


JSON5_ERRORS = [  # (text, line of the error, words in the message)
    ("{\n  a: 1\n  b: 2\n}", 3, "expected ',' or '}' after the value of 'a'"),
    ("{\n  a 1\n}", 2, "expected ':' after the key 'a'"),
    ("{\n  a: 1,\n", 3, "the object opened on line 1 is never closed"),
    ("{a: [1, 2\n\n", 3, "the list opened on line 1 is never closed"),
    ("{\n  a: 'never closed\n}", 2, "a line break inside a string"),
    ("{\n  a: 'x',\n  b: \"open", 3, "a string is never closed"),
    ("{\n  /* open comment\n  a: 1\n}", 2, "a /* comment is never closed"),
    ("{\n  a: tru\n}", 2, "expected a value, found 't'"),
    ("{\n  a: 1,\n  ,\n}", 3, "expected a key"),
    ("{\n  'a': 12abc\n}", 2, "expected a value"),
    ("{}\n{}", 2, "after the end of the value"),
    ("{a: '\\x4'}", 1, "\\x needs 2 hex digits"),
    ("{a: '\\1'}", 1, "invalid escape"),
    ("", 1, "expected a value, found the end of the file"),
    ("{a: " * 250 + "}" * 250, 1, "nested more than 200 levels"),
]


@pytest.mark.parametrize("text, line, words", JSON5_ERRORS)
def test_json5_errors_name_the_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "openclaw.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OpenClawConfigError) as caught:
        read_json5(path)
    problem = caught.value.problems[0]
    assert isinstance(caught.value, ConfigError)
    assert (problem.file, problem.line) == (str(path), line)
    assert words in problem.message
    assert str(caught.value).startswith(f"{path}:{line}: JSON5 syntax error at column ")
    assert "Traceback" not in str(caught.value) and problem.fix


def test_json_nested_beyond_pythons_recursion_limit_is_an_error_too(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(OpenClawConfigError, match="nested too deeply"):
        read_json5(path)


def test_read_json5_wants_an_object_and_a_readable_file(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(OpenClawConfigError, match="top level is not an object"):
        read_json5(path)
    with pytest.raises(EnvironmentProblem, match="cannot read the OpenClaw config") as caught:
        read_json5(tmp_path / "missing.json")
    assert not isinstance(caught.value, ConfigError)
    assert parse_json5("[1, 'a',]") == [1, "a"]   # any value, for other callers


# -- discover: paths and defaults -------------------------------------------------------------------
def test_no_config_means_openclaws_defaults(tmp_path):
    local = discover(environ(tmp_path))
    assert local.state_dir == tmp_path / "state"
    assert local.config_path == tmp_path / "state" / "openclaw.json"
    assert (local.config_found, local.config) == (False, {})
    assert (local.gateway_url, local.port_source) == ("http://127.0.0.1:18789", "default")
    assert (local.auth_mode, local.secret(), local.secret_source) == ("token", None, None)
    assert (local.max_children_per_agent, local.max_concurrent) == (5, 8)
    assert (local.workspace_only, local.sandbox_mode, local.sandboxed) == (False, "off", False)
    assert (local.default_model, local.model_allow, local.http_tools_allow) == (None, (), ())
    assert (local.in_exec, local.openclaw_cli, local.problems) == (False, None, ())
    assert local.spawn_over_http is False
    with pytest.raises(EnvironmentProblem) as caught:
        local.caller()
    assert caught.value.problems[0].fix == "set OPENCLAW_GATEWAY_TOKEN, or run this from an OpenClaw exec"
    assert "does not exist" in str(caught.value) and caught.value.exit_code == 3


def test_where_the_state_dir_and_config_are(tmp_path):
    env = environ(tmp_path)
    del env["OPENCLAW_STATE_DIR"]
    assert discover(env).state_dir == tmp_path / "home" / ".openclaw"          # ~/.openclaw
    env["OPENCLAW_HOME"] = str(tmp_path / "oc-home")
    assert discover(env).state_dir == tmp_path / "oc-home" / ".openclaw"       # OPENCLAW_HOME > HOME
    env["OPENCLAW_HOME"] = "  "
    assert discover(env).state_dir == tmp_path / "home" / ".openclaw"          # blank = unset
    env["OPENCLAW_STATE_DIR"] = "~/custom"
    assert discover(env).state_dir == tmp_path / "home" / "custom"             # ~ expanded
    legacy = tmp_path / "home" / "custom" / "clawdbot.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("{gateway: {port: 1234}}")
    assert discover(env).config_path == legacy                                 # legacy file name
    assert discover(env).gateway_url == "http://127.0.0.1:1234"
    env["OPENCLAW_CONFIG_PATH"] = str(tmp_path / "elsewhere.json5")
    assert discover(env).config_path == tmp_path / "elsewhere.json5"           # explicit path wins


def test_settings_come_from_a_hand_edited_json5_config(tmp_path):
    write_config(tmp_path, """// hand-edited
    {
      gateway: {port: 19001, bind: 'lan', tools: {allow: ['sessions_spawn']}},
      agents: {
        defaults: {
          model: {primary: 'anthropic/claude-opus-5', fallbacks: ['openai/x']},
          modelPolicy: {allow: ['anthropic/*', 'scripted/fast']},
          subagents: {maxChildrenPerAgent: 12, maxConcurrent: 3},
          sandbox: {mode: 'non-main'},
        },
      },
      tools: {fs: {workspaceOnly: true}},
    }""")
    local = discover(environ(tmp_path, OPENCLAW_SHELL="exec"))
    assert local.config_found and local.problems == ()
    assert (local.gateway_url, local.port_source) == ("http://127.0.0.1:19001", "gateway.port")
    assert local.default_model == "anthropic/claude-opus-5"
    assert local.model_allow == ("anthropic/*", "scripted/fast")
    assert (local.max_children_per_agent, local.max_concurrent) == (12, 3)
    assert (local.sandbox_mode, local.sandboxed, local.workspace_only) == ("non-main", True, True)
    assert local.spawn_over_http and local.in_exec


def test_the_main_agents_entry_overrides_the_defaults(tmp_path):
    write_config(tmp_path, json.dumps({"agents": {
        "defaults": {"model": "a/one", "subagents": {"maxChildrenPerAgent": 4}, "sandbox": {"mode": "all"}},
        "entries": {"main": {"model": "b/two", "sandbox": {"mode": "off"}, "tools": {"fs": {"workspaceOnly": True}}},
                    "other": {"model": "c/three"}}}}))
    local = discover(environ(tmp_path))
    assert (local.default_model, local.max_children_per_agent) == ("b/two", 4)
    assert (local.sandboxed, local.workspace_only) == (False, True)


def test_bad_values_are_problems_with_openclaws_defaults(tmp_path):
    path = write_config(tmp_path, json.dumps({"gateway": {"port": "80"}, "agents": {"defaults": {
        "subagents": {"maxChildrenPerAgent": 50, "maxConcurrent": True}, "sandbox": {"mode": "sometimes"}}}}))
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_PORT="http"))
    assert local.gateway_url == "http://127.0.0.1:18789"
    assert (local.max_children_per_agent, local.max_concurrent) == (5, 8)
    assert local.sandboxed   # an unknown mode is not "off": assume children may be sandboxed
    fields = [p.field for p in local.problems]
    assert fields == ["OPENCLAW_GATEWAY_PORT", "gateway.port", "agents.defaults.sandbox.mode",
                      "agents.defaults.subagents.maxChildrenPerAgent", "agents.defaults.subagents.maxConcurrent"]
    assert all(p.fix for p in local.problems)
    assert {p.file for p in local.problems[1:]} == {str(path)}


def test_a_broken_config_is_a_problem_not_an_exception(tmp_path):
    path = write_config(tmp_path, "{\n  gateway: {port: 19001,\n  agents: {}\n")
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_TOKEN=CANARY))
    assert local.config_found and local.config == {}
    assert len(local.problems) == 1
    assert (local.problems[0].file, local.problems[0].line) == (str(path), 4)
    assert "never closed" in local.problems[0].message
    assert local.secret() == CANARY and local.gateway_url.endswith(":18789")
    with pytest.raises(EnvironmentProblem, match=r"could not be read \(.*openclaw.json:4: JSON5 syntax error"):
        discover(environ(tmp_path)).caller()


def test_includes_are_merged(tmp_path):
    write_config(tmp_path, "{gateway: {port: 1, bind: 'loopback'}}", "gateway.json5")
    write_config(tmp_path, "{defaults: {subagents: {maxConcurrent: 2}}}", "agents.json5")
    write_config(tmp_path, "{$include: './gateway.json5', gateway: {port: 2345}, agents: {$include: 'agents.json5'}}")
    local = discover(environ(tmp_path))
    assert local.gateway_url == "http://127.0.0.1:2345"          # a sibling key beats the include
    assert local.config["gateway"]["bind"] == "loopback" and local.max_concurrent == 2
    assert len(local.config_files) == 3

    write_config(tmp_path, "{agents: {$include: 'missing.json5'}}")
    problems = discover(environ(tmp_path)).problems
    assert "cannot read" in problems[0].message and problems[0].file.endswith("missing.json5")


# -- discover: port and secret precedence ------------------------------------------------------------
def test_the_port_from_the_environment_beats_the_config(tmp_path):
    write_config(tmp_path, "{gateway: {port: 19001}}")
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_PORT="43210"))
    assert (local.gateway_url, local.port_source) == ("http://127.0.0.1:43210", "OPENCLAW_GATEWAY_PORT")


def test_the_config_token_beats_the_environment_token(tmp_path):
    """OpenClaw 2026.9.6 local mode: gateway.auth.token first, OPENCLAW_GATEWAY_TOKEN only when the
    file has none (a gateway with both accepted the file's and refused the env's: live test)."""
    write_config(tmp_path, json.dumps({"gateway": {"auth": {"mode": "token", "token": CANARY}}}))
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_TOKEN="env-token"))
    assert (local.secret(), local.secret_source) == (CANARY, "gateway.auth.token")

    write_config(tmp_path, json.dumps({"gateway": {"auth": {"mode": "token"}}}))
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_TOKEN="env-token"))
    assert (local.secret(), local.secret_source) == ("env-token", "OPENCLAW_GATEWAY_TOKEN")
    with pytest.raises(EnvironmentProblem, match="has no gateway.auth.token and OPENCLAW_GATEWAY_TOKEN is not set"):
        discover(environ(tmp_path)).caller()


def test_password_modes_use_the_password(tmp_path):
    write_config(tmp_path, "{gateway: {auth: {mode: 'password', password: 'pw-file'}}}")
    env = environ(tmp_path, OPENCLAW_GATEWAY_TOKEN="tok", OPENCLAW_GATEWAY_PASSWORD="pw-env")
    assert (discover(env).auth_mode, discover(env).secret()) == ("password", "pw-file")
    write_config(tmp_path, "{gateway: {auth: {mode: 'trusted-proxy'}}}")
    assert discover(env).secret() == "pw-env"              # the local direct fallback
    write_config(tmp_path, "{gateway: {auth: {password: 'pw-only'}}}")
    assert (discover(env).auth_mode, discover(env).secret()) == ("password", "pw-only")  # mode inferred
    write_config(tmp_path, "{gateway: {auth: {token: 'a', password: 'b'}}}")
    local = discover(env)
    assert local.secret() == "a" and local.problems[0].field == "gateway.auth.mode"


def test_auth_mode_none_needs_no_secret(tmp_path):
    write_config(tmp_path, "{gateway: {auth: {mode: 'none'}}}")
    local = discover(environ(tmp_path))
    assert local.secret() == NO_AUTH_BEARER
    assert local.caller().url.endswith("/tools/invoke")


def test_env_placeholders_are_resolved_like_openclaw_does(tmp_path):
    config = lambda token: write_config(tmp_path, json.dumps(  # noqa: E731
        {"gateway": {"auth": {"token": token}}, "env": {"vars": {"FROM_VARS": "tok-vars", "BOTH": "vars"}}}))
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / ".env").write_text("# comment\nexport FROM_DOTENV='tok-dotenv'\nBOTH=dotenv\n")
    env = environ(tmp_path, MY_TOKEN="tok-env", BOTH="process")
    for raw, expected in [("${MY_TOKEN}", "tok-env"), ("$MY_TOKEN", "tok-env"), ("pre-${MY_TOKEN}", "pre-tok-env"),
                          ("${FROM_DOTENV}", "tok-dotenv"), ("${FROM_VARS}", "tok-vars"),
                          ("${BOTH}", "process"), ("$${MY_TOKEN}", "${MY_TOKEN}"),
                          ({"source": "env", "provider": "default", "id": "MY_TOKEN"}, "tok-env")]:
        config(raw)
        local = discover(env)
        assert (local.secret(), local.problems) == (expected, ()), raw
    config("${NOT_SET}")
    local = discover(env)
    assert local.secret() is None
    assert "${NOT_SET}" in local.problems[0].message and local.problems[0].field == "gateway.auth.token"
    with pytest.raises(EnvironmentProblem, match=r"refers to \$\{NOT_SET\}"):
        local.caller()


def test_secretrefs_this_skill_cannot_resolve_fall_back_to_the_environment(tmp_path):
    write_config(tmp_path, json.dumps({"gateway": {"auth": {"mode": "token", "token": {
        "source": "exec", "provider": "vault", "id": "openclaw/gateway"}}}}))
    local = discover(environ(tmp_path))
    assert local.secret() is None
    assert "'exec' SecretRef, which this skill cannot resolve" in local.problems[0].message
    assert local.problems[0].fix.startswith("set OPENCLAW_GATEWAY_TOKEN")
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_TOKEN="tok-env"))
    assert (local.secret(), local.secret_source) == ("tok-env", "OPENCLAW_GATEWAY_TOKEN")


def test_the_secret_never_shows(tmp_path):
    write_config(tmp_path, json.dumps({"gateway": {"port": free_port(), "auth": {"token": CANARY}}}))
    local = discover(environ(tmp_path, OPENCLAW_GATEWAY_PASSWORD=CANARY, OTHER=CANARY))
    assert local.secret() == CANARY
    shown = [repr(local), str(local), json.dumps(local.to_dict()), repr(dataclasses.asdict(local)),
             repr(local.caller())]
    with pytest.raises(ToolError) as caught:            # nothing listens on that port
        local.caller(retries=1, timeout_s=2).call("subagents", {"action": "list"})
    shown.append(str(caught.value))
    for text in shown:
        assert CANARY not in text and "CANARY" not in text
    assert local.to_dict()["has_secret"] is True


def test_the_caller_reaches_a_gateway_with_the_configs_token(tmp_path, start_fake_gateway):
    gateway = start_fake_gateway(CANARY)
    port = int(gateway.url.rsplit(":", 1)[1])
    write_config(tmp_path, json.dumps({"gateway": {"port": port, "auth": {"mode": "token", "token": CANARY}}}))
    caller = discover(environ(tmp_path, OPENCLAW_GATEWAY_TOKEN="wrong")).caller()
    assert caller.session_key is None
    assert caller.call("subagents", {"action": "list"})["status"] == "ok"


# -- the model catalog ------------------------------------------------------------------------------
def test_models_come_from_the_cli_on_path_with_this_environment(tmp_path, cli):
    write_config(tmp_path, "{agents: {defaults: {model: 'scripted/fast'}}}")
    config_path = str(tmp_path / "state" / "openclaw.json")
    local = discover(environ(tmp_path, OPENCLAW_CONFIG_PATH=config_path))
    assert local.openclaw_cli == str(cli.path)
    catalog = local.available_models()
    assert catalog is not None and local.models_problem is None
    assert cli.calls() == [{"argv": ["models", "list", "--all", "--json"], "pid": cli.calls()[0]["pid"],
                            "config": config_path}]
    assert (catalog.source, catalog.default_model) == ("cli", "scripted/fast")
    assert catalog.usable_models() == ["scripted/balanced", "scripted/fast", "anthropic/claude-opus-5"]


def test_which_models_a_spawn_accepts():
    """The verdicts follow what sessions_spawn did on openclaw 2026.9.6 (see the module docstring)."""
    catalog = ModelCatalog(tuple(ModelRow(r["key"], r["available"], tuple(r["tags"])) for r in ROWS),
                           configured_providers=frozenset({"custom"}))
    assert catalog.usable("scripted/fast") is True
    assert catalog.usable("quick") is True and catalog.usable("fast") is True        # alias, bare id
    assert catalog.usable("claude-cli/claude-sonnet-5") is False                     # listed, no auth
    assert catalog.usable("kimi-coding/k2p5") is False                               # unknown provider
    assert catalog.explain("kimi-coding/k2p5")[0] == "unknown provider"
    assert catalog.usable("scripted/not-listed") is None                             # known provider
    assert catalog.usable("custom/anything") is None                                 # configured provider
    assert catalog.usable("") is None

    allow = dataclasses.replace(catalog, allow=("anthropic/*", "quick"))
    assert allow.usable("scripted/fast") is True                                     # allowed by alias
    assert allow.usable("anthropic/claude-opus-5") is True                           # prefix wildcard
    assert allow.usable("scripted/balanced") is False                                # "model not allowed"
    assert allow.explain("scripted/balanced") == (
        "not allowed", "scripted/balanced is not in modelPolicy.allow (anthropic/*, quick)")
    assert allow.usable_models() == ["scripted/fast", "anthropic/claude-opus-5"]
    assert [m["usable"] for m in allow.to_dict()["models"]] == [False, True, False, True]


def test_the_config_policy_reaches_the_catalog(tmp_path, cli):
    write_config(tmp_path, "{agents: {defaults: {modelPolicy: {allow: ['scripted/fast']}}}}")
    catalog = discover(environ(tmp_path)).available_models()
    assert catalog.usable("scripted/fast") is True and catalog.usable("scripted/balanced") is False


def test_the_catalog_is_cached_until_the_config_changes(tmp_path, cli, pa_home):
    config = write_config(tmp_path, "{gateway: {port: 19001}}")
    env = environ(tmp_path)
    first = discover(env).available_models()
    again = discover(env).available_models()
    assert len(cli.calls()) == 1
    assert (first.source, again.source) == ("cli", "cache") and first.rows == again.rows
    assert (pa_home / "cache" / "openclaw-models.json").is_file()

    config.write_text("{gateway: {port: 19002}}  ")         # other size and mtime: a new key
    assert discover(env).available_models().source == "cli"
    assert len(cli.calls()) == 2
    (tmp_path / "state" / ".env").write_text("ANTHROPIC_API_KEY=x\n")   # new provider auth
    assert discover(env).available_models().source == "cli"
    assert discover(env).available_models(cache=False).source == "cli"
    assert len(cli.calls()) == 4
    assert discover(env).available_models().source == "cache"
    assert len(cli.calls()) == 4


def test_a_cached_catalog_expires(tmp_path, cli, pa_home, monkeypatch):
    env = environ(tmp_path)
    discover(env).available_models()
    store = pa_home / "cache" / "openclaw-models.json"
    data = json.loads(store.read_text())
    for entry in data.values():
        entry["saved_at"] -= 3601
    store.write_text(json.dumps(data))
    assert discover(env).available_models().source == "cli"
    assert len(cli.calls()) == 2


@pytest.mark.parametrize("behaviour, words", [
    ({"exit": 1, "stdout": json.dumps({"ok": False, "error": {"type": "cli_error",
                                                             "message": "JSON5: invalid end of input at 3:1"}}),
      "stderr": "Failed to read config\n"}, "failed (exit 1): JSON5: invalid end of input at 3:1"),
    ({"exit": 1, "stderr": "\nerror: unknown option '--all'\n"}, "failed (exit 1): error: unknown option '--all'"),
    ({"stdout": "not json at all"}, "failed (exit 0): it printed no model list"),
    ({"stdout": '{"count": 0}'}, "it printed no model list"),
])
def test_a_failing_cli_gives_none_and_a_reason(tmp_path, cli, behaviour, words):
    cli.behave(**behaviour)
    local = discover(environ(tmp_path))
    assert local.available_models() is None
    assert words in local.models_problem.message and local.models_problem.fix
    local.available_models()
    assert len(cli.calls()) == 2                              # failures are not cached


def test_a_banner_before_the_json_is_skipped(tmp_path, cli):
    cli.behave(stdout="OpenClaw 2026.9.6 (eb377ac)\n\n" + CATALOG_JSON)
    assert len(discover(environ(tmp_path)).available_models().rows) == len(ROWS)


def test_a_hanging_cli_is_killed_at_the_timeout(tmp_path, cli):
    cli.behave(sleep=60, stdout=CATALOG_JSON)
    local = discover(environ(tmp_path))
    started = time.monotonic()
    assert local.available_models(timeout_s=1) is None
    assert time.monotonic() - started < 10
    assert "did not finish within 1s" in local.models_problem.message
    with pytest.raises(ProcessLookupError):
        os.kill(cli.calls()[0]["pid"], 0)


def test_no_cli_on_path(tmp_path):
    local = discover(environ(tmp_path))
    assert local.available_models() is None
    assert local.models_problem.message == "the `openclaw` CLI is not on PATH"
