"""`install`, `upgrade ZIP` and `upgrade --rollback`: the skill folder is replaced, user data
outside it is kept, and so are the user's edits made inside it (moved to the user folder).

The story the issue asks for is `test_upgrade_keeps_custom_agents_and_in_place_edits` and
`test_rollback_restores_the_previous_version`; the others pin the edges.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_package import make_release, rezip

from parallel_agents import __version__
from parallel_agents.core.errors import InputError, PackageError
from parallel_agents.release.install import commented_config, ensure_user_home, install
from parallel_agents.release.manifest import MANIFEST, read_manifest, read_version
from parallel_agents.release.upgrade import rollback, upgrade

REPO = Path(__file__).resolve().parent.parent
V2 = "0.2.0"
NEW_AGENT = "release_notes_reviewer"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Path]:
    """v1 = this checkout; v2 = the same with version 0.2.0, one more agent and
    max_concurrent 5 -> 6. Built once per module."""
    work = tmp_path_factory.mktemp("releases")
    return {"v1": make_release(work, __version__),
            "v2": make_release(work, V2, agent=NEW_AGENT,
                               config={"max_concurrent: 5": "max_concurrent: 6"})}


@pytest.fixture
def target(tmp_path) -> Path:
    """Where the tests install: OpenClaw's default, under this test's OPENCLAW_STATE_DIR."""
    return tmp_path / "openclaw-state" / "skills" / "parallel-agents"


@pytest.fixture(scope="module")
def _v1_installed(releases, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("v1")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse isolation is not on yet
        mp.setenv("PARALLEL_AGENTS_HOME", str(work / "home"))
        mp.setenv("OPENCLAW_STATE_DIR", str(work / "state"))
        install(work / "parallel-agents", releases["v1"])
    return work / "parallel-agents"


@pytest.fixture
def v1(_v1_installed, target) -> Path:
    """v1 installed at `target` (a copy of one `install --from v1.zip` per module; the install
    itself is tested above), with the user folder it creates."""
    shutil.copytree(_v1_installed, target)
    ensure_user_home(target)
    return target


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def registry_of(skill: Path) -> dict:
    """The agents of an installed folder + the test's overlay, loaded in this process."""
    from parallel_agents.definitions.registry import Registry
    return {d.name: d for d in Registry.load(shipped=skill / "agents")}


def agents_seen_by(skill: Path) -> dict[str, dict]:
    """`list --json` as the installed version's own code answers it (the test's user folder)."""
    done = subprocess.run([sys.executable, str(skill / "ai_orchestrator.py"), "list", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {a["name"]: a for a in json.loads(done.stdout)["agents"]}


def edit_in_place(skill: Path, rel: str, old: str, new: str) -> None:
    path = skill / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# -- install -----------------------------------------------------------------------------------

def test_install_from_zip_creates_the_skill_and_the_user_folder(releases, target, pa_home):
    report = install(None, releases["v1"])
    assert report["target"] == str(target) and report["version"] == __version__
    assert (target / "SKILL.md").is_file() and read_manifest(target)["version"] == __version__
    assert not any(p.name.startswith(".") for p in target.parent.iterdir())  # no leftovers
    assert sorted(report["created"]) == sorted(map(str, [pa_home, pa_home / "agents",
                                                         pa_home / "config.yaml"]))
    assert list((pa_home / "agents").iterdir()) == []
    # every key commented out: the user config sets nothing, and the effective config is shipped
    from parallel_agents.core.config import load_config
    assert yaml.safe_load((pa_home / "config.yaml").read_text()) is None
    assert load_config().data == load_config(user=False).data


def test_the_user_config_explains_every_key_and_uncomments_to_the_shipped_values():
    shipped = (REPO / "config.yaml").read_text()
    text = commented_config(shipped, "1.2.3")
    assert "parallel-agents 1.2.3" in text.splitlines()[0]
    for key in yaml.safe_load(shipped):
        assert f"\n# {key}:" in text
    data_lines = {ln for ln in shipped.splitlines() if ln.strip() and not ln.startswith("#")}
    uncommented = "\n".join(ln[2:] if ln[2:] in data_lines else ln for ln in text.splitlines())
    assert yaml.safe_load(uncommented) == yaml.safe_load(shipped)


def test_install_never_touches_an_existing_user_folder(releases, pa_home, overlay_dir,
                                                       write_definition):
    (pa_home / "config.yaml").write_text("max_concurrent: 3\n")
    write_definition(overlay_dir, "my_agent")
    before = tree_digest(pa_home)
    report = install(None, releases["v1"])
    assert report["created"] == []
    assert tree_digest(pa_home) == before


def test_install_from_the_checkout(target, cli):
    code, out, err = cli("install", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["source"] == f"checkout {REPO}" and report["version"] == __version__
    assert read_manifest(target)["version"] == __version__
    assert (target / "agents" / "qa" / "code_reviewer.yaml").is_file()
    assert not (target / "tests").exists() and not (target / "bench").exists()


def test_install_refuses_an_existing_skill_folder(v1, releases, cli):
    code, out, err = cli("install", "--from", releases["v1"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"already exists (parallel-agents {__version__})" in err and "upgrade" in err


def test_install_run_from_the_installed_copy_only_creates_the_user_folder(releases, target,
                                                                           pa_home):
    """After `openclaw skills install` (or unzipping by hand), the installed copy's own
    `install` finds itself in place and sets up the user folder."""
    install(None, releases["v1"])
    shutil.rmtree(pa_home)
    before = tree_digest(target)
    done = subprocess.run([sys.executable, str(target / "ai_orchestrator.py"), "install"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"parallel-agents {__version__} is already in place at {target}")
    assert (pa_home / "config.yaml").is_file() and (pa_home / "agents").is_dir()
    assert tree_digest(target) == before


def test_install_elsewhere_with_target(releases, tmp_path, cli):
    code, out, err = cli("install", "--from", releases["v1"], "--target", tmp_path / "x" / "skill")
    assert code == 0, err
    assert out.startswith(f"installed parallel-agents {__version__} into {tmp_path}/x/skill")
    assert (tmp_path / "x" / "skill" / MANIFEST).is_file()


# -- upgrade: the story of the issue --------------------------------------------------------------

def test_upgrade_keeps_custom_agents_and_in_place_edits(v1, releases, overlay_dir, pa_home,
                                                         write_definition):
    custom = write_definition(overlay_dir, "my_custom_agent")
    custom_text = custom.read_text()
    edit_in_place(v1, "agents/qa/code_reviewer.yaml", "description: Reviews",
                  "description: EDITED IN PLACE. Reviews")
    edit_in_place(v1, "config.yaml", "transient_attempts: 3", "transient_attempts: 7")

    report = upgrade(releases["v2"])

    assert (report["from"], report["to"]) == (__version__, V2)
    assert report["agents_added"] == [NEW_AGENT]
    assert report["agents_removed"] == [] and report["agents_changed"] == []
    assert report["config_keys_changed"] == ["max_concurrent"]
    assert report["warnings"] == []
    # the custom agent is untouched, the in-place edit moved to the overlay
    assert custom.read_text() == custom_text
    moved = overlay_dir / "code_reviewer.yaml"
    assert "EDITED IN PLACE" in moved.read_text()
    assert {"file": "agents/qa/code_reviewer.yaml", "to": str(moved),
            "note": "moved to your overlay, in use"} in report["kept"]
    # the edited config key moved to the user config (kept commented header, value in use)
    user_config = yaml.safe_load((pa_home / "config.yaml").read_text())
    assert user_config == {"retry": {"transient_attempts": 7}}
    assert any(k.get("key") == "retry.transient_attempts" for k in report["kept"])
    # the new version, as its own code sees it
    assert read_version(v1) == V2 and read_manifest(v1)["version"] == V2
    agents = agents_seen_by(v1)
    assert agents["my_custom_agent"]["origin"] == "overlay"
    assert agents["code_reviewer"]["origin"] == "overlay"
    assert agents["code_reviewer"]["description"].startswith("EDITED IN PLACE")
    assert agents[NEW_AGENT]["origin"] == "shipped"
    from parallel_agents.core.config import load_config
    effective = load_config(user=True, shipped=v1 / "config.yaml")
    assert effective.max_concurrent == 6 and effective.retry["transient_attempts"] == 7


def test_rollback_restores_the_previous_version(v1, releases, cli, warm_cache):
    v1_files = tree_digest(v1)
    upgrade(releases["v2"])
    assert read_version(v1) == V2

    code, out, err = cli("upgrade", "--rollback", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["from"], report["to"]) == (V2, __version__)
    assert tree_digest(v1) == v1_files
    assert NEW_AGENT not in registry_of(v1)
    # the version rolled back from is kept in turn: a second rollback returns to it
    assert read_version(Path(report["previous"])) == V2
    code, out, _ = cli("upgrade", "--rollback")
    assert code == 0 and out.startswith(f"rolled back {v1}: {__version__} -> {V2}.")
    assert read_version(v1) == V2


def test_the_previous_version_is_a_hidden_sibling(v1, releases):
    """OpenClaw loads every non-hidden folder in its skills directory: a visible copy would be
    a second `parallel-agents` (and OpenClaw picked the copy when we tried)."""
    report = upgrade(releases["v2"])
    previous = Path(report["previous"])
    assert previous.parent == v1.parent and previous.name == ".parallel-agents.previous"
    assert read_version(previous) == __version__
    assert sorted(p.name for p in v1.parent.iterdir()) == [".parallel-agents.previous",
                                                          "parallel-agents"]


def test_upgrade_text_output(v1, releases, cli, overlay_dir):
    edit_in_place(v1, "README.md", "# parallel-agents", "# parallel-agents (my notes)")
    (overlay_dir / "broken_agent.yaml").write_text("name: broken_agent\n")
    code, out, err = cli("upgrade", releases["v2"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"upgraded {v1}: {__version__} -> {V2}"
    assert f"  agents added: {NEW_AGENT}" in lines
    assert "  config keys changed: max_concurrent" in lines
    assert ("  README.md: edited in place; not carried over (it stays in the previous version)"
            in lines)
    # problems the new version finds in the user's own files are warnings, not refusals
    first = next(i for i, line in enumerate(lines) if line.startswith("warning: "))
    assert all(line.startswith("warning: ") and "broken_agent.yaml" in line
               for line in lines[first:])
    assert lines[first - 1].endswith("`upgrade --rollback` brings it back.")


def test_upgrade_from_the_installed_copy_itself(v1, releases, tmp_path):
    """What a user runs: the installed version's own script upgrades its own folder."""
    done = subprocess.run([sys.executable, str(v1 / "ai_orchestrator.py"), "upgrade",
                           str(releases["v2"]), "--json"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["to"] == V2
    assert read_version(v1) == V2
    done = subprocess.run([sys.executable, str(v1 / "ai_orchestrator.py"), "upgrade",
                           "--rollback"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_version(v1) == __version__


# -- in-place edits that cannot simply move ---------------------------------------------------

def test_an_overlay_agent_of_the_same_name_keeps_both(v1, releases, overlay_dir, write_definition,
                                                      warm_cache):
    mine = write_definition(overlay_dir, "code_reviewer", category="qa")
    mine_text = mine.read_text()
    edit_in_place(v1, "agents/qa/code_reviewer.yaml", "description: Reviews",
                  "description: EDITED IN PLACE. Reviews")
    report = upgrade(releases["v2"])
    kept = overlay_dir / f"code_reviewer.yaml.edited-in-{__version__}"
    assert mine.read_text() == mine_text  # the overlay's own file stays in use
    assert "EDITED IN PLACE" in kept.read_text()
    item = next(k for k in report["kept"] if k["file"] == "agents/qa/code_reviewer.yaml")
    assert item["to"] == str(kept)
    assert "your overlay already has code_reviewer.yaml, which stays in use" in item["note"]
    assert registry_of(v1)["code_reviewer"].source == str(mine)


def test_an_invalid_in_place_edit_is_kept_but_not_used(v1, releases, overlay_dir, warm_cache):
    edit_in_place(v1, "agents/qa/code_reviewer.yaml", "category: qa", "category: qa\ncolour: red")
    report = upgrade(releases["v2"])
    kept = overlay_dir / f"code_reviewer.yaml.edited-in-{__version__}"
    assert "colour: red" in kept.read_text() and not (overlay_dir / "code_reviewer.yaml").exists()
    item = next(k for k in report["kept"] if k["file"] == "agents/qa/code_reviewer.yaml")
    assert "not a valid definition" in item["note"] and "colour" in item["note"]
    assert registry_of(v1)["code_reviewer"].origin == "shipped"


def test_an_agent_added_inside_the_skill_moves_to_the_overlay(v1, releases, overlay_dir,
                                                              write_definition, warm_cache):
    write_definition(v1 / "agents" / "custom", "dropped_in_agent")
    report = upgrade(releases["v2"])
    assert (overlay_dir / "dropped_in_agent.yaml").is_file()
    assert {"file": "agents/custom/dropped_in_agent.yaml",
            "to": str(overlay_dir / "dropped_in_agent.yaml"),
            "note": "moved to your overlay, in use"} in report["kept"]
    assert registry_of(v1)["dropped_in_agent"].origin == "overlay"


def test_config_keys_the_user_already_sets_are_not_overwritten(v1, releases, pa_home):
    (pa_home / "config.yaml").write_text("# mine\nretry:\n  transient_attempts: 2\n")
    edit_in_place(v1, "config.yaml", "transient_attempts: 3", "transient_attempts: 7")
    edit_in_place(v1, "config.yaml", "budget_usd: null", "budget_usd: 2.5")
    edit_in_place(v1, "config.yaml", "  reask_invalid: true", "  reask_invalid: false")
    report = upgrade(releases["v2"])
    notes = {k["key"]: k["note"] for k in report["kept"] if "key" in k}
    assert notes["retry.transient_attempts"] == "your config.yaml already sets it; yours is kept"
    assert notes["budget_usd"].startswith("added to your config.yaml, in use")
    user = yaml.safe_load((pa_home / "config.yaml").read_text())
    assert user == {"retry": {"transient_attempts": 2, "reask_invalid": False}, "budget_usd": 2.5}
    # a section the user already had was rewritten: the file as it was is kept beside it
    assert (pa_home / f"config.yaml.before-upgrade-to-{V2}").read_text().startswith("# mine")


def test_new_top_level_keys_are_appended_keeping_the_comments(v1, releases, pa_home):
    edit_in_place(v1, "config.yaml", "budget_usd: null", "budget_usd: 2.5")
    upgrade(releases["v2"])
    text = (pa_home / "config.yaml").read_text()
    assert text.startswith("# Your parallel-agents settings")
    assert text.rstrip().endswith("budget_usd: 2.5")
    assert yaml.safe_load(text) == {"budget_usd": 2.5}


def test_openclaws_install_record_stays_with_the_skill(v1, releases):
    (v1 / ".openclaw").mkdir()
    (v1 / ".openclaw" / "source-origin.json").write_text('{"source": "path"}')
    report = upgrade(releases["v2"])
    assert (v1 / ".openclaw" / "source-origin.json").read_text() == '{"source": "path"}'
    assert report["not_carried_over"] == []


# -- refusals: the installed version stays as it was -----------------------------------------

def _untouched(target: Path, before: dict, home: Path, home_before: dict) -> None:
    assert tree_digest(target) == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["parallel-agents"]
    assert tree_digest(home) == home_before


@pytest.mark.parametrize("damage", ["bad hash", "truncated"])
def test_a_corrupt_zip_is_refused_and_nothing_changes(v1, releases, pa_home, tmp_path, cli,
                                                      damage):
    edit_in_place(v1, "agents/qa/code_reviewer.yaml", "description: Reviews", "description: Mine.")
    before, home_before = tree_digest(v1), tree_digest(pa_home)
    bad = tmp_path / "bad.zip"
    if damage == "truncated":
        bad.write_bytes(releases["v2"].read_bytes()[:-4000])
    else:
        rezip(releases["v2"], bad,
              lambda n, d: d + b"\n# injected\n" if n.endswith("parallel_agents/cli/main.py") else d)
    code, out, err = cli("upgrade", bad)
    assert code == 1 and out == ""
    assert "Traceback" not in err
    assert ("sha256 differs" if damage == "bad hash" else "not a readable zip") in err
    _untouched(v1, before, pa_home, home_before)


def test_a_zip_whose_agents_do_not_validate_is_refused(v1, releases, pa_home, tmp_path):
    """The manifest matches, but the new version's own validation fails: refused, and the
    staging folder is gone."""
    from parallel_agents.release.manifest import build_manifest, shipped_files
    from parallel_agents.release.packaging import zip_bytes
    from test_package import copy_skill, set_version
    tree = copy_skill(tmp_path / "broken")
    set_version(tree, V2)
    edit_in_place(tree, "agents/qa/code_reviewer.yaml", "category: qa", "category: qa\ncolour: 1")
    files = shipped_files(tree)
    bad = tmp_path / "broken.zip"
    bad.write_bytes(zip_bytes(tree, files, build_manifest(tree, files)))
    before, home_before = tree_digest(v1), tree_digest(pa_home)
    with pytest.raises(PackageError) as caught:
        upgrade(bad)
    assert any(p.field == "colour" for p in caught.value.problems)
    _untouched(v1, before, pa_home, home_before)


def test_a_downgrade_is_refused_unless_forced(v1, releases, cli):
    upgrade(releases["v2"])
    code, out, err = cli("upgrade", releases["v1"])
    assert code == 2 and f"{__version__} is older than the installed {V2}" in err
    assert "--force" in err and read_version(v1) == V2
    code, out, err = cli("upgrade", releases["v1"], "--force")
    assert code == 0, err
    assert read_version(v1) == __version__


def test_the_same_version_again_needs_force(v1, releases):
    with pytest.raises(InputError) as caught:
        upgrade(releases["v1"])
    assert "already installed" in str(caught.value)
    assert upgrade(releases["v1"], force=True)["to"] == __version__


def test_a_folder_without_manifest_needs_force(v1, releases):
    (v1 / MANIFEST).unlink()
    with pytest.raises(PackageError) as caught:
        upgrade(releases["v2"])
    assert "--force" in caught.value.problems[0].fix
    report = upgrade(releases["v2"], force=True)
    assert report["edits_checked"] is False and report["agents_added"] == [NEW_AGENT]


def test_upgrade_needs_an_installed_skill(releases, cli):
    code, out, err = cli("upgrade", releases["v2"])
    assert code == 2 and "no parallel-agents installed at" in err and "install" in err


def test_rollback_recovers_an_upgrade_stopped_between_its_renames(v1, releases):
    upgrade(releases["v2"])
    shutil.rmtree(v1)  # as if the second rename never happened
    report = rollback()
    assert report["to"] == __version__ and read_version(v1) == __version__


def test_rollback_needs_a_previous_version(v1):
    with pytest.raises(InputError) as caught:
        rollback()
    assert "no previous version" in str(caught.value)


@pytest.mark.parametrize("args,message", [
    ((), "no ZIP given"),
    (("x.zip", "--rollback"), "--rollback takes no ZIP"),
])
def test_upgrade_usage_errors(cli, args, message):
    code, out, err = cli("upgrade", *args)
    assert code == 2 and message in err and err.count("\n") == 1
