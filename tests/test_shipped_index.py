"""The shipped validation index (parallel_agents/definitions/shipped_index.py): the shipped
definitions known to be valid, so that the first use after an install or upgrade validates none
of them. It must be current (else this file fails, naming the command that regenerates it), it
never indexes an invalid file, the registry trusts it for unchanged shipped files only (a file
changed since, and every overlay file, is validated as before), and it ships in the release zip,
where the installed skill uses it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from parallel_agents.core.errors import DefinitionError
from parallel_agents.core.paths import SHIPPED_AGENTS
from parallel_agents.definitions import shipped_index
from parallel_agents.definitions.registry import Registry
from support import REPO, count_full_validations

SHIPPED_NAMES = sorted(p.stem for p in SHIPPED_AGENTS.rglob("*.yaml"))
REVIEWER = Path("qa") / "code_reviewer.yaml"


# -- the index in this checkout -------------------------------------------------------------------

def test_the_index_is_current():
    differences = shipped_index.stale()
    assert not differences, (
        f"{shipped_index.INDEX.name} is out of date (" + "; ".join(differences) + "). "
        f"Regenerate it: {shipped_index.REGENERATE}")


def test_the_index_lists_exactly_the_files_that_pass_full_validation():
    stored = json.loads(shipped_index.INDEX.read_text(encoding="utf-8"))
    assert shipped_index.build_index() == stored   # build_index validates every file
    assert len(stored["files"]) == len(SHIPPED_NAMES) == len(shipped_index.shipped_keys())


# -- regenerating it ------------------------------------------------------------------------------

@pytest.fixture
def agents(tmp_path) -> Path:
    """A copy of the shipped agents folder, with its own index (shipped_index points at both)."""
    folder = tmp_path / "agents"
    shutil.copytree(SHIPPED_AGENTS, folder)
    return folder


@pytest.fixture
def own_index(tmp_path, agents, monkeypatch) -> Path:
    """The index regenerating writes, in tmp_path (and the shipped settings' record beside it)."""
    from parallel_agents.core import config
    index = tmp_path / "shipped-valid.json"
    monkeypatch.setattr(shipped_index, "SHIPPED_AGENTS", agents)
    monkeypatch.setattr(shipped_index, "INDEX", index)
    monkeypatch.setattr(config, "SHIPPED_DIGEST", tmp_path / "config-valid.txt")
    return index


def test_regenerate_writes_both_records_and_check_then_passes(own_index, tmp_path, capsys):
    from parallel_agents.core import config
    real_digest = (REPO / "parallel_agents" / "core" / "config-valid.txt").read_text()
    assert shipped_index.main(["--check"]) == 1   # neither record yet
    assert shipped_index.main([]) == 0
    assert "25 definition(s) valid" in capsys.readouterr().out
    assert json.loads(own_index.read_text()) == json.loads(shipped_index.INDEX.read_text())
    assert config.SHIPPED_DIGEST.read_text() == real_digest
    assert shipped_index.main(["--check"]) == 0
    assert shipped_index.stale() == [] and shipped_index.stale_config() == []


def test_changed_shipped_settings_are_stale_and_regenerated(own_index, tmp_path, monkeypatch):
    from parallel_agents.core import config
    assert shipped_index.main([]) == 0
    changed = tmp_path / "config.yaml"
    changed.write_text((REPO / "config.yaml").read_text().replace("max_concurrent: 5",
                                                                  "max_concurrent: 6"))
    assert changed.read_text() != (REPO / "config.yaml").read_text()
    monkeypatch.setattr(config, "SHIPPED_CONFIG", changed)
    assert shipped_index.stale_config() != []
    assert shipped_index.main([]) == 0
    assert shipped_index.stale_config() == []
    before = config.SHIPPED_DIGEST.read_bytes(), own_index.read_bytes()
    changed.write_text(changed.read_text().replace("max_concurrent: 6", "max_concurrent: 0"))
    assert shipped_index.main([]) == 1   # invalid settings: neither record is written
    assert (config.SHIPPED_DIGEST.read_bytes(), own_index.read_bytes()) == before


def test_regenerate_refuses_an_invalid_definition_and_writes_nothing(own_index, agents, capsys):
    assert shipped_index.main([]) == 0
    before = own_index.read_bytes()
    reviewer = agents / REVIEWER
    reviewer.write_text(reviewer.read_text() + "colour: blue\n")
    assert shipped_index.main([]) == 1
    err = capsys.readouterr().err
    assert "code_reviewer.yaml" in err and "unknown key 'colour'" in err
    assert "nothing was written" in err
    assert own_index.read_bytes() == before
    with pytest.raises(DefinitionError):
        shipped_index.build_index(agents)


def test_stale_names_each_change_and_the_command(own_index, agents, capsys):
    assert shipped_index.main([]) == 0
    reviewer = agents / REVIEWER
    reviewer.write_text(reviewer.read_text().replace("description:", "description: Edited.", 1))
    shutil.copyfile(reviewer, agents / "qa" / "copy_reviewer.yaml")
    (agents / "content" / "content_writer_funny.yaml").unlink()
    assert shipped_index.stale() == ["content/content_writer_funny.yaml is indexed but gone",
                                     "qa/code_reviewer.yaml changed",
                                     "qa/copy_reviewer.yaml is not indexed"]
    capsys.readouterr()
    assert shipped_index.main(["--check"]) == 1
    assert shipped_index.REGENERATE in capsys.readouterr().out


def test_new_checks_make_the_index_stale_and_untrusted(own_index, monkeypatch):
    assert shipped_index.main([]) == 0
    assert len(shipped_index.shipped_keys()) == 25
    monkeypatch.setattr(shipped_index, "CHECKS_VERSION", shipped_index.CHECKS_VERSION + 1)
    shipped_index.schema_tag.cache_clear()
    try:
        assert shipped_index.stale() == [
            "agents/agent-definition.schema.json or CHECKS_VERSION changed"]
        assert shipped_index.shipped_keys() == frozenset()
    finally:   # the tag of the real CHECKS_VERSION again, for the tests that follow
        monkeypatch.setattr(shipped_index, "CHECKS_VERSION", shipped_index.CHECKS_VERSION - 1)
        shipped_index.schema_tag.cache_clear()


# -- what the registry does with it ----------------------------------------------------------------

@pytest.fixture
def check_calls(monkeypatch):
    """The names the registry fully validates (check_definition), starting with no user cache."""
    return count_full_validations(monkeypatch)


def test_a_fresh_user_folder_validates_no_unchanged_shipped_file(check_calls, pa_home):
    assert not (pa_home / "cache").exists()
    lazy = Registry.load(lazy=True)   # as plan: one definition, found by an alias
    assert lazy.get("pet_care_coordinator").name == "donut_care_coordinator"
    assert Registry.load().names() == SHIPPED_NAMES   # as list: all of them
    assert check_calls == []
    # and the user folder's cache learnt them: nothing is parsed or looked up again
    cached = json.loads((pa_home / "cache" / "validated-definitions.json").read_text())
    assert len(cached["valid"]) == len(cached["parsed"]) == 25


def test_without_the_index_every_shipped_file_is_validated(check_calls, monkeypatch, tmp_path):
    monkeypatch.setattr(shipped_index, "INDEX", tmp_path / "none.json")
    assert len(Registry.load()) == 25
    assert sorted(check_calls) == SHIPPED_NAMES


def test_a_tampered_shipped_file_is_validated(check_calls, agents):
    reviewer = agents / REVIEWER
    reviewer.write_text(reviewer.read_text().replace("description:", "description: Edited.", 1))
    registry = Registry.load(shipped=agents, overlay=None)
    assert check_calls == ["code_reviewer"]   # the others are as indexed
    assert registry.get("code_reviewer").description.startswith("Edited.")
    # tampered into an invalid file: refused, as any invalid file is
    reviewer.write_text(reviewer.read_text() + "colour: blue\n")
    with pytest.raises(DefinitionError) as caught:
        Registry.load(shipped=agents, overlay=None, lazy=True).get("code_reviewer")
    assert "unknown key 'colour'" in str(caught.value)


def test_an_overlay_file_is_never_covered(check_calls, pa_home, tmp_path):
    overlay = pa_home / "agents"
    overlay.mkdir(parents=True)
    shutil.copyfile(SHIPPED_AGENTS / REVIEWER, overlay / "code_reviewer.yaml")  # an indexed key
    (tmp_path / "no-shipped").mkdir()
    registry = Registry.load(shipped=tmp_path / "no-shipped")
    assert check_calls == ["code_reviewer"]
    assert registry.get("code_reviewer").origin == "overlay"


def _first_use_script(skill: Path) -> str:
    """Python that loads the registry of the skill folder `skill` with full validation
    forbidden, and prints how many definitions it has and whether jsonschema was imported."""
    return f"""
import sys
sys.path.insert(0, {str(skill)!r})
from parallel_agents.definitions import registry
assert registry.__file__.startswith({str(skill)!r}), registry.__file__
def validate(*args, **kwargs):
    raise AssertionError("validated: " + str(kwargs.get("expected_name")))
registry.check_definition = validate
print(len(registry.Registry.load(overlay=None)), "jsonschema" in sys.modules)
"""


def _run(code: str, home: Path) -> str:
    env = {**os.environ, "PARALLEL_AGENTS_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_first_plan_in_a_fresh_user_folder_imports_no_jsonschema(tmp_path):
    code = f"""
import io, sys, contextlib
sys.path.insert(0, {str(REPO)!r})
from parallel_agents.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["plan", "--agent", "code_reviewer", "--task", "Review this module",
                 "--input", {str(REPO / "examples" / "review_input.yaml")!r}, "--json"])
print(code, "jsonschema" in sys.modules)
"""
    assert _run(code, tmp_path / "home").split() == ["0", "False"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(this checkout's release zip, the skill folder unpacked from it)."""
    from parallel_agents.release.packaging import build_package
    folder = tmp_path_factory.mktemp("release")
    package = Path(build_package(REPO, folder / "dist")["path"])
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder / "unpacked")
    return package, folder / "unpacked" / "parallel-agents"


def test_the_release_zip_ships_the_index(installed):
    package, _ = installed
    with zipfile.ZipFile(package) as archive:
        shipped = archive.read("parallel-agents/parallel_agents/definitions/shipped-valid.json")
        manifest = json.loads(archive.read("parallel-agents/MANIFEST.json"))
    assert shipped == shipped_index.INDEX.read_bytes()
    assert "parallel_agents/definitions/shipped-valid.json" in {f["path"] for f in manifest["files"]}


def test_the_installed_skill_validates_no_shipped_file_on_first_use(installed, tmp_path):
    _, skill = installed
    assert _run(_first_use_script(skill), tmp_path / "home").split() == ["25", "False"]
