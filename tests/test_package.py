"""`package`: the release zip ships only what a user needs, carries a MANIFEST.json with every
file's sha256, is byte-for-byte reproducible, and is refused when damaged. OpenClaw's own
skill-creator scripts accept the unpacked zip (marker `openclaw`).

Helpers used by test_upgrade.py and test_openclaw_install.py too:
- `copy_skill(dest)` copies the shipped files of this checkout into `dest`;
- `make_release(workdir, version, agent=None, config=None)` builds a release zip of this
  checkout with another version (plus a CHANGELOG entry), optionally adding an agent definition
  and changing config.yaml values, and returns its path.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openclaw_package import package_dir
import yaml

from parallel_agents import __version__
from parallel_agents.core.errors import PackageError, ParallelAgentsError
from parallel_agents.release.manifest import NAME, build_manifest, shipped_files
from parallel_agents.release.packaging import build_package, zip_bytes
from parallel_agents.release.zipread import read_package

REPO = Path(__file__).resolve().parent.parent


# -- helpers (shared with test_upgrade.py and test_openclaw_install.py) ----------------------------

def copy_skill(dest: Path) -> Path:
    for rel in shipped_files(REPO):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, dest / rel)
    return dest


def set_version(tree: Path, version: str) -> None:
    init = tree / "parallel_agents" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{__version__}"', f'"{version}"'))
    changelog = tree / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace(
        "# Changelog\n", f"# Changelog\n\n## {version}\n\n- Test release.\n", 1))


def make_release(workdir: Path, version: str, *, agent: str | None = None,
                 config: dict | None = None) -> Path:
    tree = copy_skill(workdir / f"src-{version}")
    set_version(tree, version)
    if agent:
        source = (REPO / "agents" / "qa" / "code_reviewer.yaml").read_text()
        data = yaml.safe_load(source)
        data.pop("aliases", None)
        data.update(name=agent, description=f"{agent}: added in {version} by the tests.")
        (tree / "agents" / "qa" / f"{agent}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    if config:
        text = (tree / "config.yaml").read_text()
        for old, new in config.items():
            assert old in text
            text = text.replace(old, new)
        (tree / "config.yaml").write_text(text)
    return Path(build_package(tree, workdir / "dist")["path"])


def rezip(source: Path, dest: Path, change) -> Path:
    """Copy a zip entry by entry; `change(name, data)` returns new data, or None to drop it."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
    return dest


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """This checkout's release zip (built once per module)."""
    return Path(build_package(REPO, tmp_path_factory.mktemp("dist"))["path"])


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


# -- what is in it ------------------------------------------------------------------------------

def test_zip_is_named_after_the_version_and_holds_one_folder(release):
    assert release.name == f"parallel-agents-{__version__}.zip"
    assert all(name.startswith(f"{NAME}/") for name in _names(release))


def test_zip_ships_only_what_a_user_needs(release):
    names = {name.split("/", 1)[1] for name in _names(release)}
    for needed in ("SKILL.md", "README.md", "USAGE-GUIDE.md", "CHANGELOG.md", "config.yaml",
                   "requirements.txt", "ai_orchestrator.py", "helpers.py", "MANIFEST.json",
                   "parallel_agents/cli/main.py", "parallel_agents/core/config.schema.json",
                   "agents/agent-definition.schema.json", "agents/qa/code_reviewer.yaml",
                   "examples/tasks.yaml"):
        assert needed in names
    assert len([n for n in names if n.startswith("agents/") and n.endswith(".yaml")]) == 25
    for name in names:
        top = name.split("/")[0]
        assert top not in ("tests", "bench", ".ci", ".git", "dist", ".pytest_cache"), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
        assert not any(part.startswith(".") for part in name.split("/")), name
    assert "BENCHMARKS.md" not in names and "pytest.ini" not in names


def test_manifest_lists_every_file_with_its_sha256(release):
    with zipfile.ZipFile(release) as archive:
        manifest = json.loads(archive.read(f"{NAME}/MANIFEST.json"))
        files = {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}
    assert manifest["name"] == NAME and manifest["version"] == __version__
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"MANIFEST.json"}
    for path, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[path]).hexdigest()
        assert entry["size"] == len(files[path])
    # the shipped config's values, so `upgrade` can tell which keys a user edited in place
    assert manifest["shipped_config"] == yaml.safe_load((REPO / "config.yaml").read_text())


def test_same_tree_same_bytes(tmp_path):
    tree = copy_skill(tmp_path / "tree")
    first = build_package(tree, tmp_path / "a")
    for path in tree.rglob("*"):  # new times, other permissions, a cache: nothing changes
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (tree / "helpers.py").chmod(0o755)
    (tree / "parallel_agents" / "__pycache__").mkdir(exist_ok=True)
    (tree / "parallel_agents" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")
    second = build_package(tree, tmp_path / "b")
    assert Path(first["path"]).read_bytes() == Path(second["path"]).read_bytes()
    assert first["sha256"] == second["sha256"]
    with zipfile.ZipFile(second["path"]) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_package_command(cli, tmp_path):
    code, out, err = cli("package", "--out", tmp_path, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["path"] == str(tmp_path / f"parallel-agents-{__version__}.zip")
    assert report["version"] == __version__
    assert report["sha256"] == hashlib.sha256(Path(report["path"]).read_bytes()).hexdigest()
    code, out, _ = cli("package", "--out", tmp_path)
    assert code == 0 and out.startswith(f"built {report['path']}: parallel-agents {__version__}")


def test_version_lives_in_one_place(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"parallel-agents {__version__}"
    assert f"## {__version__}" in (REPO / "CHANGELOG.md").read_text()


# -- what package refuses to build -------------------------------------------------------------

def test_a_version_without_a_changelog_entry_is_not_packaged(tmp_path):
    tree = copy_skill(tmp_path / "tree")
    init = tree / "parallel_agents" / "__init__.py"
    init.write_text(init.read_text().replace(__version__, "9.9.9"))
    with pytest.raises(PackageError) as caught:
        build_package(tree, tmp_path / "dist")
    problem = caught.value.problems[0]
    assert problem.field == "version" and "9.9.9" in problem.message
    assert "## 9.9.9" in problem.fix
    assert not (tmp_path / "dist").exists()


def test_an_invalid_agent_is_not_packaged(tmp_path):
    tree = copy_skill(tmp_path / "tree")
    path = tree / "agents" / "qa" / "code_reviewer.yaml"
    path.write_text(path.read_text().replace("category: qa", "category: qa\ncolour: red"))
    with pytest.raises(PackageError) as caught:
        build_package(tree, tmp_path / "dist")
    assert any(p.field == "colour" and "code_reviewer.yaml" in (p.file or "")
               for p in caught.value.problems)


def test_a_skill_md_with_another_name_is_not_packaged(tmp_path):
    tree = copy_skill(tmp_path / "tree")
    skill = tree / "SKILL.md"
    skill.write_text(skill.read_text().replace("name: parallel-agents", "name: other-skill", 1))
    with pytest.raises(PackageError) as caught:
        build_package(tree, tmp_path / "dist")
    assert caught.value.problems[0].field == "name"


# -- reading a zip back: damaged or foreign zips are refused -------------------------------------

def test_read_package_accepts_the_release(release):
    package = read_package(release)
    assert package.version == __version__
    assert "SKILL.md" in package.contents and "MANIFEST.json" in package.contents


def _tamper(data: bytes) -> bytes:
    return data + b"\n# changed\n"


@pytest.mark.parametrize("damage,expected", [
    ("truncated", "not a readable zip"),
    ("not a zip", "not a readable zip"),
    ("changed file", "sha256 differs"),
    ("extra file", "not in the manifest"),
    ("missing file", "missing from the zip"),
    ("no manifest", "no MANIFEST.json"),
    ("unsafe name", "unsafe entry name"),
])
def test_damaged_zips_are_refused(release, tmp_path, damage, expected):
    bad = tmp_path / "bad.zip"
    if damage == "truncated":
        bad.write_bytes(release.read_bytes()[: release.stat().st_size // 2])
    elif damage == "not a zip":
        bad.write_text("hello")
    elif damage == "changed file":
        rezip(release, bad, lambda n, d: _tamper(d) if n.endswith("code_reviewer.yaml") else d)
    elif damage == "missing file":
        rezip(release, bad, lambda n, d: None if n.endswith("helpers.py") else d)
    elif damage == "no manifest":
        rezip(release, bad, lambda n, d: None if n.endswith("MANIFEST.json") else d)
    else:
        rezip(release, bad, lambda n, d: d)
        with zipfile.ZipFile(bad, "a") as archive:
            name = f"{NAME}/agents/extra.yaml" if damage == "extra file" else "../evil.sh"
            archive.writestr(name, "x")
    with pytest.raises(PackageError) as caught:
        read_package(bad)
    assert expected in str(caught.value)
    assert all(p.fix for p in caught.value.problems)


def test_a_damaged_entry_is_refused(release, tmp_path):
    """Same size, one flipped byte inside the compressed data: the CRC check catches it."""
    data = bytearray(release.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(f"{NAME}/SKILL.md")
    data[info.header_offset + 30 + len(info.filename) + 20] ^= 0xFF
    bad = tmp_path / "flipped.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(ParallelAgentsError) as caught:
        read_package(bad)
    assert "SKILL.md" in str(caught.value)


def test_manifest_with_bad_version_is_refused(release, tmp_path):
    def change(name, data):
        if name.endswith("MANIFEST.json"):
            manifest = json.loads(data)
            manifest["version"] = "latest"
            return json.dumps(manifest).encode()
        return data
    with pytest.raises(PackageError) as caught:
        read_package(rezip(release, tmp_path / "bad.zip", change))
    assert caught.value.problems[0].field == "version"


def test_zip_of_a_tree_can_be_rebuilt_from_its_manifest(tmp_path):
    """zip_bytes/build_manifest are the pieces build_package uses; a hand-made zip reads back."""
    tree = copy_skill(tmp_path / "tree")
    files = shipped_files(tree)
    path = tmp_path / "hand.zip"
    path.write_bytes(zip_bytes(tree, files, build_manifest(tree, files)))
    assert read_package(path).version == __version__


# -- OpenClaw's skill-creator scripts accept the unpacked zip -------------------------------------

@pytest.fixture(scope="module")
def skill_creator() -> Path:
    return package_dir() / "skills" / "skill-creator" / "scripts"


@pytest.fixture
def unpacked(release, tmp_path) -> Path:
    with zipfile.ZipFile(release) as archive:
        archive.extractall(tmp_path / "unpacked")
    return tmp_path / "unpacked" / NAME


@pytest.mark.openclaw
def test_quick_validate_accepts_the_unpacked_zip(skill_creator, unpacked):
    done = subprocess.run([sys.executable, str(skill_creator / "quick_validate.py"), str(unpacked)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "Skill is valid!"


@pytest.mark.openclaw
def test_package_skill_packages_the_unpacked_zip(skill_creator, unpacked, tmp_path):
    # usage (from the script): package_skill.py <path/to/skill-folder> [output-directory]
    out = tmp_path / "skill-out"
    done = subprocess.run([sys.executable, str(skill_creator / "package_skill.py"), str(unpacked),
                           str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[OK] Skill is valid!" in done.stdout
    with zipfile.ZipFile(out / f"{NAME}.skill") as archive:
        names = set(archive.namelist())
    assert f"{NAME}/SKILL.md" in names and f"{NAME}/MANIFEST.json" in names
    assert len(names) == len(_names_of(unpacked))


def _names_of(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]
