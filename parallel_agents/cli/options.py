"""The options several commands share, and what they check before any work is done: --json,
whole numbers, USD amounts and scores, the runtime to run on (and the orchestrator it makes),
refinement's --target/--max-rounds, output folders and input data files."""
from __future__ import annotations

import argparse
from pathlib import Path

from parallel_agents.core.paths import SKILL_DIR

#: This checkout's entry point: the command the CLI tells the user (or the host agent) to run.
SCRIPT = str(SKILL_DIR / "ai_orchestrator.py")


def add_json(p) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


# -- argument types --------------------------------------------------------------------------

def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def usd(text: str) -> float:
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD, e.g. 2.50") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 (leave it out for no budget)")
    return value


def score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError("must be from 0 to 10")
    return value


# -- option groups ---------------------------------------------------------------------------

def add_refine_options(p) -> None:
    """--target SCORE --max-rounds N (refine, and run --goal --refine-created)."""
    p.add_argument("--target", type=score, default=8.5, metavar="SCORE",
                   help="stop refining an agent once its design scores this (0-10, default 8.5)")
    p.add_argument("--max-rounds", type=positive, default=3, metavar="N",
                   help="reviews per agent at most (default 3)")


def add_runtime_options(p, *, concurrency: bool = True) -> None:
    """Which runtime runs the agents (--simulate, --attach, --gateway) and, with `concurrency`,
    how many at once and the budget."""
    if concurrency:
        p.add_argument("--max-concurrent", type=positive, metavar="N",
                       help="attempts in flight at most (default: config max_concurrent)")
        p.add_argument("--budget", type=usd, metavar="USD", help="stop starting attempts past this spend")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--simulate", action="store_true",
                       help="use the simulated runtime (no OpenClaw; outputs are marked [simulated])")
    which.add_argument("--attach", nargs="?", const="main", default=None, metavar="SESSION",
                       help="attached mode: run through an OpenClaw attach grant bound to SESSION "
                            "(default: the main session); needs the `openclaw` CLI, no gateway "
                            "configuration")
    p.add_argument("--detach", action="store_true",
                   help="with --attach: start the run in the background and return its run id at "
                        "once; `runs RUN_ID --wait` collects it")
    which.add_argument("--gateway", metavar="URL",
                       help="drive this OpenClaw gateway over HTTP (default: OPENCLAW_GATEWAY_URL, "
                            "then gateway.url in config.yaml; token: OPENCLAW_GATEWAY_TOKEN)")
    p.add_argument("--allow-insecure-http", action="store_true",
                   help="allow plain http:// to a gateway that is not on loopback (sends the "
                        "token unencrypted: trusted networks only)")


def orchestrator_options(args) -> dict:
    """RealAIParallelOrchestrator's keyword arguments from the options of add_runtime_options
    (attached mode's child sets args.runtime_object: the runtime over its grant)."""
    from parallel_agents.core.config import load_config
    config = load_config()
    url, insecure = getattr(args, "gateway", None), getattr(args, "allow_insecure_http", False)
    if url or insecure:
        config = config.with_gateway(url=url, allow_insecure_http=insecure)
    runtime = getattr(args, "runtime_object", None) or \
        ("simulated" if getattr(args, "simulate", False) else url)
    return {"runtime": runtime, "config": config, "budget_usd": getattr(args, "budget", None),
            "reuse": bool(getattr(args, "reuse", False))}


def orchestrator(args, on_event):
    """The RealAIParallelOrchestrator the options ask for, its events going to `on_event`."""
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    return RealAIParallelOrchestrator(getattr(args, "max_concurrent", None), on_event=on_event,
                                      **orchestrator_options(args))


# -- files named by options --------------------------------------------------------------------

def output_folder(path: Path | None, option: str = "--out") -> Path | None:
    """Check an output folder option before any work is done: it must be a folder, or not exist
    yet under a folder that does (InputError naming the option and the fix otherwise)."""
    from parallel_agents.core.errors import InputError
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise InputError("is a file, not a folder", file=str(path), field=option,
                         fix=f"name a folder for {option} (it is created when missing)")
    parent = next((p for p in path.parents if p.exists()), None)
    if not path.exists() and parent is not None and not parent.is_dir():
        raise InputError(f"{parent} is a file, so this folder cannot be created", file=str(path),
                         field=option, fix=f"name a folder for {option}")
    return path


def read_input_file(path: str) -> dict:
    """The input data of `--input FILE`: a YAML/JSON mapping (InputError naming the file otherwise)."""
    from parallel_agents.core import yamlio
    from parallel_agents.core.errors import InputError
    text = yamlio.read_text(Path(path), shown=path)
    data, problem = yamlio.parse(text, shown=path)
    if problem:
        raise InputError(problem.message, problems=[problem])
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("input data must be a mapping of keys to values", file=path, line=1,
                         fix="write it as `key: value` lines (YAML) or a JSON object")
    return data
