"""`python3 ai_orchestrator.py COMMAND`: the command line. Builds the parser from each command
module's `add_parsers`, dispatches to its `COMMANDS`, and turns the library's typed errors into
one line each (file:line: field: message (fix: ...)) and an exit code: 0 ok, 1 invalid input
found / tasks failed, 2 bad usage, 3 missing dependency or runtime. The agent-definition
commands (list, show, validate) live here.

When the first argument names a command, only that command's module is imported and only its
parser is built (every process pays for the parser it builds: ~20 parsers cost tens of ms on a
slow machine); anything else (`--help`, `--version`, no or an unknown command) builds them all,
so top-level help and usage errors read as always."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from parallel_agents import __version__
from parallel_agents.core.errors import ParallelAgentsError
from parallel_agents.cli.options import add_json, read_input_file
from parallel_agents.cli.render import table, to_json

SAMPLE_TASK = "Sample task: show how you would handle a typical request in your area."


class _Parser(argparse.ArgumentParser):
    json_errors = False  # set by main() when --json is on the command line

    def error(self, message):  # usage errors: one line and exit 2, as everywhere else
        if self.json_errors:  # and, as for every other error, JSON on stdout for --json
            from parallel_agents.core.errors import InputError
            option = message.split(":", 1)[0][len("argument "):] if message.startswith("argument ") \
                else None  # "argument --max-concurrent: must be at least 1"
            print(to_json(InputError(message, field=option, fix=f"see `{self.prog} --help`").to_dict()))
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of `command` (one of COMMAND_NAMES) when given: its
    subparser is the same, and the top-level parser never prints its own usage (_Parser.error)."""
    parser = _Parser(prog="ai_orchestrator.py",
                     description="Fan work out to specialised OpenClaw sub-agents.")
    parser.add_argument("--version", action="version", version=f"parallel-agents {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    if command in (None, "list"):
        p = sub.add_parser("list", help="list agent types")
        p.add_argument("--category", help="only this category")
        add_json(p)

    if command in (None, "show"):
        p = sub.add_parser("show", help="show an agent definition and the prompt it builds")
        p.add_argument("name", help="agent type or alias")
        p.add_argument("--task", default=None, help="task description for the sample prompt")
        p.add_argument("--input", default=None, metavar="FILE",
                       help="YAML/JSON file with input data for the sample prompt")
        add_json(p)

    if command in (None, "validate"):
        p = sub.add_parser("validate", help="check agent definitions and config")
        p.add_argument("paths", nargs="*", type=Path,
                       help="definition files or folders (default: shipped + overlay + config)")
        add_json(p)

    if command is None:
        for module in _command_modules():   # in the order --help lists them
            module.add_parsers(sub)
    elif command in COMMAND_MODULES:
        _command_module(command).add_parsers(sub, only=command)
    return parser


def _command_modules():
    from parallel_agents.cli import demo, host, package, run, runs, setup, workflows
    return run, demo, runs, host, workflows, package, setup


# The module (cli/<name>.py) of each command not defined here: its `add_parsers` builds the
# command's parser and its COMMANDS runs it. Written out so that one command imports one module
# (tests/test_cli_lazy_parser.py keeps it equal to the modules' COMMANDS).
COMMAND_MODULES = {"run": "run", "demo": "demo", "runs": "runs", "resume": "runs",
                   "plan": "host", "check": "host", "doctor": "host", "refine": "workflows",
                   "create-agents": "workflows", "install-agent": "workflows",
                   "package": "package", "install": "package", "upgrade": "package",
                   "setup": "setup"}
COMMAND_NAMES = frozenset({"list", "show", "validate", *COMMAND_MODULES})


def _command_module(command: str):
    """The module of a command in COMMAND_MODULES (one of those _command_modules imports)."""
    return importlib.import_module(f"parallel_agents.cli.{COMMAND_MODULES[command]}")


# -- commands --------------------------------------------------------------------------------

def cmd_list(args, out) -> int:
    from parallel_agents.definitions.registry import Registry
    registry = Registry.load()
    if args.category and args.category not in registry.categories():
        raise _unknown_category(args.category, registry.categories())
    agents = registry.in_category(args.category)
    rows = [{"name": d.name, "category": d.category, "aliases": list(d.aliases),
             "description": d.description, "output_format": d.output_format,
             "tier": d.tier, "origin": d.origin} for d in agents]
    if args.json:
        out(to_json({"count": len(rows), "categories": registry.categories(), "agents": rows}))
    else:
        out(table([{**r, "aliases": ",".join(r["aliases"])} for r in rows],
                  ["name", "category", "aliases", "description"]))
        out(f"\n{len(rows)} agent types. `show NAME` for one.")
    return 0


def _unknown_category(category, categories):
    from parallel_agents.core.errors import InputError
    return InputError(f"unknown category {category!r}", field="--category",
                      fix="use one of: " + ", ".join(categories))


def cmd_show(args, out) -> int:
    from parallel_agents.prompts.build import build_prompt
    from parallel_agents.definitions.registry import Registry
    definition = Registry.load().get(args.name)
    input_data = read_input_file(args.input) if args.input else {}
    prompt = build_prompt(definition, args.task or SAMPLE_TASK, input_data)
    if args.json:
        out(to_json({"definition": definition.to_dict(), "source": definition.source,
                     "origin": definition.origin, "prompt": prompt}))
        return 0
    from parallel_agents.core import yamlio
    out(f"# {definition.name} ({definition.origin}: {definition.source})")
    out(yamlio.dump(definition.to_dict()).rstrip())
    out("\n# Prompt for " + ("the task given" if args.task else "a sample task") + ":\n")
    out(prompt.rstrip())
    return 0


def cmd_validate(args, out) -> int:
    from parallel_agents.definitions.validation import validate_paths
    report = validate_paths(args.paths)
    if args.json:
        out(to_json(report.to_dict()))
    else:
        for problem in report.problems:
            out(str(problem))
        for note in report.notes():
            out(note)
        out(report.summary())
    return 0 if report.ok else 1


def _command(name: str):
    """The function that runs the command `name` (importing its module only)."""
    own = {"list": cmd_list, "show": cmd_show, "validate": cmd_validate}
    return own[name] if name in own else _command_module(name).COMMANDS[name]


# Commands that run without jsonschema and pyyaml: `setup` installs them, `doctor` reports them.
WITHOUT_DEPENDENCIES = {"setup", "doctor"}


# -- entry point -------------------------------------------------------------------------------

def _render_error(exc: ParallelAgentsError, as_json: bool, err, out) -> None:
    if as_json:
        out(to_json(exc.to_dict()))
    for problem in exc.problems:
        err(f"error: {problem}")


def main(argv: list[str] | None = None, *, runtime=None, out=None) -> int:
    """The CLI. `runtime` and `out` are set by attached mode's child (attach.py child_main): the
    command runs on that runtime and writes its output through `out`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_attached"]:
        from parallel_agents.cli.attach import child_main
        return child_main(argv[1:], main)
    _Parser.json_errors = "--json" in argv
    command = argv[0] if argv and argv[0] in COMMAND_NAMES else None
    args = build_parser(command).parse_args(argv)
    out = out or (lambda text="": print(text, flush=True))
    err = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    args.runtime_object = runtime
    try:
        if args.command not in WITHOUT_DEPENDENCIES:
            from parallel_agents.core.deps import check_installed
            check_installed()  # one line naming `setup`, before any worker thread needs them
        if getattr(args, "attach", None) is not None and runtime is None \
                and not getattr(args, "estimate", False):   # an estimate needs no runtime
            from parallel_agents.cli.attach import launch
            return launch(args, argv, out, err)
        return _command(args.command)(args, out)
    except ParallelAgentsError as exc:
        _render_error(exc, getattr(args, "json", False), err, out)
        return exc.exit_code
    except ImportError as exc:  # a dependency found but not importable (broken, too old)
        from parallel_agents.core.deps import as_missing_dependency
        problem = as_missing_dependency(exc)
        if problem is None:
            return _internal_error(exc, err)
        _render_error(problem, getattr(args, "json", False), err, out)
        return problem.exit_code
    except KeyboardInterrupt as exc:   # a run says how to finish it (RunInterrupted)
        err(str(exc) or "interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the disk or a folder said no (not a folder, permissions, full)
        from parallel_agents.core.errors import EnvironmentProblem
        from parallel_agents.core.paths import user_home
        problem = EnvironmentProblem(
            f"cannot use it: {exc.strerror or exc}", file=exc.filename,
            fix=f"check that the folder exists, is a folder and is writable (your user folder: "
                f"{user_home()}, set by PARALLEL_AGENTS_HOME)")
        _render_error(problem, getattr(args, "json", False), err, out)
        return problem.exit_code
    except Exception as exc:  # a bug in this skill, not a user mistake
        return _internal_error(exc, err)


def _internal_error(exc: Exception, err) -> int:
    if os.environ.get("PARALLEL_AGENTS_DEBUG"):
        raise exc
    err(f"internal error: {type(exc).__name__}: {exc} "
        "(set PARALLEL_AGENTS_DEBUG=1 for the traceback and please report it)")
    return 70
