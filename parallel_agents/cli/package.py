"""CLI for releases: `package` (the zip), `install` (into OpenClaw's skills folder, and the user
folder), `upgrade ZIP` / `upgrade --rollback`. The library returns reports; this renders them."""
from __future__ import annotations

from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.cli.options import add_json, output_folder
from parallel_agents.cli.render import to_json


def add_parsers(sub, only: str | None = None) -> None:
    """The parsers of package, install and upgrade, in --help's order; `only`: just that
    command's (main builds one parser when the command line names its command)."""
    if only in (None, "package"):
        p = sub.add_parser("package", help="build dist/parallel-agents-VERSION.zip with MANIFEST.json")
        p.add_argument("--out", type=Path, metavar="DIR", help="folder for the zip (default: dist/)")
        add_json(p)

    if only in (None, "install"):
        p = sub.add_parser("install", help="install the skill into OpenClaw, create your user folder")
        p.add_argument("--target", type=Path, metavar="DIR",
                       help="skill folder (default: $OPENCLAW_STATE_DIR/skills/parallel-agents)")
        p.add_argument("--from", dest="from_zip", type=Path, metavar="ZIP",
                       help="a release zip (default: this checkout)")
        add_json(p)

    if only in (None, "upgrade"):
        p = sub.add_parser("upgrade", help="replace the installed skill with a release zip, keeping "
                                           "your edits; or --rollback")
        p.add_argument("zip", nargs="?", type=Path, metavar="ZIP", help="the release zip")
        p.add_argument("--target", type=Path, metavar="DIR",
                       help="skill folder (default: $OPENCLAW_STATE_DIR/skills/parallel-agents)")
        p.add_argument("--force", action="store_true",
                       help="allow a downgrade, the same version again, or a folder "
                            "without MANIFEST.json")
        p.add_argument("--rollback", action="store_true",
                       help="go back to the version kept by the last upgrade (no ZIP)")
        add_json(p)


def cmd_package(args, out) -> int:
    from parallel_agents.release.packaging import build_package
    report = build_package(out=output_folder(args.out))
    if args.json:
        out(to_json(report))
    else:
        out(f"built {report['path']}: parallel-agents {report['version']}, {report['files']} "
            f"files, {report['size']} bytes, sha256 {report['sha256']}")
    return 0


def _created(report, out) -> None:
    for path in report["created"]:
        out(f"  created {path}")
    if not report["created"]:
        out(f"  your user folder {report['user_home']} was already there (left as it was)")


def cmd_install(args, out) -> int:
    from parallel_agents.release.install import install
    report = install(args.target, args.from_zip)
    if args.json:
        out(to_json(report))
        return 0
    if report["source"] == "in place":
        out(f"parallel-agents {report['version']} is already in place at {report['target']}")
    else:
        out(f"installed parallel-agents {report['version']} into {report['target']} "
            f"(from {report['source']})")
    _created(report, out)
    out("Your agents go in agents/ and your settings in config.yaml there; upgrades never touch "
        "them. Check with: python3 ai_orchestrator.py doctor")
    return 0


def _names(items) -> str:
    return ", ".join(items) if items else "-"


def _render_upgrade(report, out) -> None:
    out(f"upgraded {report['target']}: {report['from']} -> {report['to']}")
    for what in ("agents_added", "agents_removed", "agents_changed", "config_keys_added",
                 "config_keys_removed", "config_keys_changed"):
        out(f"  {what.replace('_', ' ')}: {_names(report[what])}")
    if not report["edits_checked"]:
        out("  in-place edits were not checked (no MANIFEST.json in the old folder)")
    if report["kept"]:
        out("your in-place edits:")
    for item in report["kept"]:
        where = f" -> {item['to']}" if item.get("to") else ""
        key = f":{item['key']}" if item.get("key") else ""
        out(f"  {item['file']}{key}{where}: {item['note']}")
    for item in report["not_carried_over"]:
        out(f"  {item['file']}: {item['note']}")
    out(f"The previous version is kept in {report['previous']}; "
        "`upgrade --rollback` brings it back.")


def cmd_upgrade(args, out) -> int:
    from parallel_agents.release.upgrade import rollback, upgrade
    if args.rollback and args.zip:
        raise InputError("--rollback takes no ZIP", field="--rollback",
                         fix="run `upgrade --rollback` alone, or `upgrade ZIP`")
    if not args.rollback and not args.zip:
        raise InputError("no ZIP given", field="ZIP",
                         fix="name the release zip: upgrade parallel-agents-X.Y.Z.zip "
                             "(or use --rollback)")
    report = rollback(args.target) if args.rollback else upgrade(args.zip, args.target, args.force)
    if args.json:
        out(to_json(report))
        return 0
    if args.rollback and report["previous"] is None:
        out(f"restored {report['target']}: {report['to']} (there was no installed folder)")
    elif args.rollback:
        out(f"rolled back {report['target']}: {report['from']} -> {report['to']}. "
            f"{report['from']} is kept in {report['previous']} (`upgrade --rollback` again "
            "returns to it).")
    else:
        _render_upgrade(report, out)
    for warning in report["warnings"]:
        out(f"warning: {warning}")
    return 0


COMMANDS = {"package": cmd_package, "install": cmd_install, "upgrade": cmd_upgrade}
