"""CLI for `setup`: install the skill's Python packages for the python3 running it (see
parallel_agents.release.depsetup). Works without them, like `--help` and `--version`: nothing here or in
depsetup imports jsonschema or yaml. Progress goes to stderr, so stdout is only the result."""
from __future__ import annotations

import sys

from parallel_agents.cli.options import add_json
from parallel_agents.cli.render import to_json


def add_parsers(sub, only: str | None = None) -> None:
    """The parser of `setup` (`only` names it or is None: this module has no other command)."""
    p = sub.add_parser("setup", help="install jsonschema and pyyaml for this python3 into your "
                                     "user folder (when a command says they are missing)")
    p.add_argument("--force", action="store_true",
                   help="install again, even when done already or not needed")
    add_json(p)


def cmd_setup(args, out) -> int:
    from parallel_agents.release.depsetup import ALREADY, NOT_NEEDED, setup
    report = setup(force=args.force, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        out(to_json(report.to_dict()))
    elif report.status == ALREADY:
        out(f"already set up for {report.python} in {report.folder} (requirements unchanged; "
            "--force installs again)")
    elif report.status == NOT_NEEDED:
        out(f"nothing to do: {report.python} has {' and '.join(report.requirements)} already "
            f"(--force installs the skill's own copy into {report.folder} anyway)")
    else:
        packages = ", ".join(f"{name} {version}" for name, version in report.packages.items())
        out(f"set up {packages} for {report.python} in {report.folder} ({report.seconds:.1f} s)")
    return 0


COMMANDS = {"setup": cmd_setup}
