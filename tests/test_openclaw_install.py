"""OpenClaw itself installs the release and finds it ready. Needs Node >= 24.16 and the openclaw
npm package (.ci/install-openclaw puts both in ~/.cache/parallel-agents); in CI
(PARALLEL_AGENTS_REQUIRE_OPENCLAW=1) their absence fails instead of skipping.

Every openclaw command runs with its own HOME, OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH (this
test's temp folders) and no gateway settings, so `skills info` reads the local skills folder.
Commands (from `openclaw skills --help` and docs/cli/skills.md; zip paths are not accepted, so
the zip is unpacked first):
    openclaw skills install <unpacked>/parallel-agents --global
    openclaw skills info parallel-agents --json
    openclaw skills list --json
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openclaw_package import node, package_dir
from test_package import make_release

from parallel_agents import __version__
from parallel_agents.release.manifest import NAME, read_version
from parallel_agents.release.packaging import build_package

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.openclaw


@pytest.fixture(scope="module")
def openclaw_cmd() -> list[str]:
    return [node(), str(package_dir() / "openclaw.mjs")]


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("releases")
    return {"v1": Path(build_package(REPO, work / "dist")["path"]),
            "v2": make_release(work, "0.2.0", agent="release_notes_reviewer")}


@pytest.fixture
def openclaw(openclaw_cmd, tmp_path):
    """openclaw(*args) -> CompletedProcess, in an isolated OpenClaw home; `.state` is its
    OPENCLAW_STATE_DIR (the one this test's parallel-agents commands use too)."""
    state = Path(os.environ["OPENCLAW_STATE_DIR"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=str(tmp_path / "home"), OPENCLAW_STATE_DIR=str(state),
               OPENCLAW_CONFIG_PATH=str(state / "openclaw.json"), NO_COLOR="1")
    (tmp_path / "home").mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*openclaw_cmd, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    run.state = state
    return run


def _unpack(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)
    return dest / NAME


def _info(openclaw) -> dict:
    done = openclaw("skills", "info", NAME, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _assert_ready(info: dict, base_dir: Path) -> None:
    assert info["name"] == NAME and info["source"] == "openclaw-managed"
    assert info["eligible"] is True and info["disabled"] is False
    assert info["requirements"]["bins"] == ["python3"]
    assert all(v == [] for v in info["missing"].values()), info["missing"]
    assert info["baseDir"] == str(base_dir)


def test_openclaw_installs_the_unpacked_zip_and_reports_it_ready(openclaw, releases, tmp_path):
    source = _unpack(releases["v1"], tmp_path / "unpacked")
    done = openclaw("skills", "install", str(source), "--global")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    installed = openclaw.state / "skills" / NAME
    assert f"Installed {NAME} from path -> {installed}" in output
    assert "warn" not in output.lower() and "policy" not in output.lower(), output
    assert read_version(installed) == __version__ and (installed / "MANIFEST.json").is_file()
    _assert_ready(_info(openclaw), installed)


def test_upgrade_of_an_openclaw_installed_skill_stays_ready(openclaw, releases, tmp_path):
    """OpenClaw copies MANIFEST.json along, so `upgrade` can check in-place edits; its install
    record (.openclaw/) moves to the new version; the hidden previous folder is not loaded."""
    source = _unpack(releases["v1"], tmp_path / "unpacked")
    assert openclaw("skills", "install", str(source), "--global").returncode == 0
    installed = openclaw.state / "skills" / NAME
    record = (installed / ".openclaw" / "source-origin.json").read_text()

    done = subprocess.run([sys.executable, str(installed / "ai_orchestrator.py"), "upgrade",
                           str(releases["v2"]), "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["from"], report["to"]) == (__version__, "0.2.0")
    assert report["not_carried_over"] == [] and report["kept"] == []
    assert (installed / ".openclaw" / "source-origin.json").read_text() == record

    _assert_ready(_info(openclaw), installed)
    listed = json.loads(openclaw("skills", "list", "--json").stdout)["skills"]
    assert [s["name"] for s in listed].count(NAME) == 1


def test_openclaw_finds_the_skill_our_install_command_installed(openclaw, releases, cli):
    code, out, err = cli("install", "--from", releases["v1"], "--json")
    assert code == 0, err
    assert json.loads(out)["target"] == str(openclaw.state / "skills" / NAME)
    _assert_ready(_info(openclaw), openclaw.state / "skills" / NAME)
