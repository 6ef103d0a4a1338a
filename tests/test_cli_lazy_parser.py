"""The CLI builds only the parser of the command it runs (cli/main.py build_parser(command)):
each command's parser is the same as in the full parser, its module is the one COMMAND_MODULES
names, and running a command imports no other command's module."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest

from parallel_agents.cli import main as cli_main
from support import REPO

# the least each command parses (its required arguments)
MINIMAL_ARGV = {"show": ["code_reviewer"], "resume": ["RUN"], "check": ["--plan", "PLAN"],
                "refine": ["code_reviewer"], "create-agents": ["designs.yaml"],
                "install-agent": ["agent.yaml"], "run": ["--agent", "code_reviewer"],
                "plan": ["--agent", "code_reviewer"]}


def _module_name(module) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def test_command_modules_names_each_modules_commands():
    found = {name: _module_name(module) for module in cli_main._command_modules()
             for name in module.COMMANDS}
    assert cli_main.COMMAND_MODULES == found
    assert cli_main.COMMAND_NAMES == {"list", "show", "validate", *found}


def _help(parser, argv) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        parser.parse_args(argv)
    return exited.value.code, out.getvalue()


@pytest.mark.parametrize("command", sorted(cli_main.COMMAND_NAMES))
def test_one_commands_parser_is_the_full_parsers(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    alone, full = cli_main.build_parser(command), cli_main.build_parser()
    assert _help(alone, [command, "--help"]) == _help(full, [command, "--help"])
    argv = [command, *MINIMAL_ARGV.get(command, [])]
    assert vars(alone.parse_args(argv)) == vars(full.parse_args(argv))
    others = sorted(cli_main.COMMAND_NAMES - {command})
    with pytest.raises(SystemExit):   # the other commands are not there
        alone.parse_args([others[0], *MINIMAL_ARGV.get(others[0], [])])


def test_top_level_help_lists_every_command(cli):
    code, out, _ = cli("--help")
    assert code == 0
    assert all(name in out for name in cli_main.COMMAND_NAMES)


def _cli_modules_after(argv: list[str], home) -> list[str]:
    code = f"""
import io, sys, contextlib
sys.path.insert(0, {str(REPO)!r})
from parallel_agents.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    main({argv!r})
print(" ".join(sorted(m for m in sys.modules if m.startswith("parallel_agents.cli."))))
"""
    env = {**os.environ, "PARALLEL_AGENTS_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


COMMAND_MODULE_NAMES = {f"parallel_agents.cli.{m}" for m in cli_main.COMMAND_MODULES.values()}


def test_list_imports_no_command_module(tmp_path):
    assert not COMMAND_MODULE_NAMES & set(_cli_modules_after(["list", "--json"], tmp_path))


def test_plan_imports_its_own_command_module_only(tmp_path):
    loaded = _cli_modules_after(["plan", "--agent", "code_reviewer", "--task", "Review this",
                                 "--json"], tmp_path)
    assert COMMAND_MODULE_NAMES & set(loaded) == {"parallel_agents.cli.host"}
