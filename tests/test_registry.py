"""The registry: the 25 shipped agents, the user's overlay folder on top (it wins by name), where
that folder is, what makes loading fail, suggestions for unknown names, and the validation cache."""
from __future__ import annotations

import json
import os

import pytest

from parallel_agents import api
from parallel_agents.core import paths
from parallel_agents.core.errors import DefinitionError, EnvironmentProblem, UnknownAgentError
from parallel_agents.definitions.registry import Registry
from support import count_full_validations

# a warm validation cache keeps each load fast; the cache tests below remove it first
pytestmark = pytest.mark.usefixtures("warm_cache")

SHIPPED_NAMES = [
    "content_writer_creative", "content_writer_funny", "content_writer_educational",
    "content_writer_trendy", "content_writer_controversial",
    "frontend_developer", "backend_developer", "database_architect", "api_designer",
    "devops_engineer",
    "code_reviewer", "security_reviewer", "performance_reviewer", "accessibility_reviewer",
    "test_engineer",
    "documentation_writer",
    "agent_creator", "agent_design_reviewer", "agent_refiner", "agent_orchestrator",
    "travel_event_planner", "donut_care_coordinator", "pup_community_engager",
    "print_project_manager", "training_assistant",
]


# -- shipped ------------------------------------------------------------------------------------

def test_loads_exactly_the_25_shipped_agents():
    reg = Registry.load()
    assert len(SHIPPED_NAMES) == 25 == len(set(SHIPPED_NAMES))
    assert reg.names() == sorted(SHIPPED_NAMES)
    assert len(reg) == 25
    assert reg.problems == []
    assert {d.origin for d in reg} == {"shipped"}
    assert all(d.name in reg for d in reg)


def test_categories_and_listing_order():
    reg = Registry.load()
    assert reg.categories() == ["content", "development", "documentation", "meta", "personal", "qa"]
    assert [d.name for d in reg.in_category("qa")] == sorted(
        ["code_reviewer", "security_reviewer", "performance_reviewer", "accessibility_reviewer",
         "test_engineer"])
    assert reg.in_category("no_such_category") == []
    listed = list(reg)
    assert [(d.category, d.name) for d in listed] == sorted((d.category, d.name) for d in listed)
    assert len(reg.in_category(None)) == 25


def test_alias_resolves_to_donut_care_coordinator():
    reg = Registry.load()
    assert "pet_care_coordinator" in reg
    assert "pet_care_coordinator" not in reg.names()
    assert reg.resolve("pet_care_coordinator") == "donut_care_coordinator"
    assert reg.get("pet_care_coordinator") is reg.get("donut_care_coordinator")
    assert reg.resolve("code_reviewer") == "code_reviewer"


def test_api_helpers_use_one_cached_registry(overlay_dir, write_definition):
    assert sorted(api.list_available_agents()) == sorted(SHIPPED_NAMES)
    assert api.list_available_agents("documentation") == ["documentation_writer"]
    assert api.validate_agent_type("pet_care_coordinator") is True
    assert api.validate_agent_type("code_reviewer") is True
    assert api.validate_agent_type("no_such_agent") is False
    reg = api.load_registry()
    assert api.load_registry() is reg
    assert api.get_agent_prompt("code_reviewer") == reg.get("code_reviewer").system_prompt
    full = api.get_agent_prompt("code_reviewer", "Review this.", {"code": "x = 1"})
    assert full.startswith(reg.get("code_reviewer").system_prompt.strip())
    assert "## Task\nReview this." in full
    # a new overlay agent is only seen after reload=True
    write_definition(overlay_dir, "late_agent")
    assert api.validate_agent_type("late_agent") is False
    assert "late_agent" in api.load_registry(reload=True)
    assert api.validate_agent_type("late_agent") is True


# -- the overlay ----------------------------------------------------------------------------------

def test_overlay_adds_an_agent_and_overrides_a_shipped_one(overlay_dir, write_definition):
    added = write_definition(overlay_dir, "my_helper")
    nested = write_definition(overlay_dir / "more", "nested_helper")
    override = write_definition(overlay_dir, "code_reviewer", category="qa",
                                description="My own code reviewer that replaces the shipped one.")
    reg = Registry.load()
    assert reg.overlay == overlay_dir
    assert len(reg) == 27
    assert sorted(reg.names()) == sorted(SHIPPED_NAMES + ["my_helper", "nested_helper"])
    helper = reg.get("my_helper")
    assert (helper.origin, helper.source) == ("overlay", str(added))
    assert reg.get("nested_helper").source == str(nested)
    mine = reg.get("code_reviewer")
    assert mine.origin == "overlay"
    assert mine.source == str(override)
    assert mine.description == "My own code reviewer that replaces the shipped one."
    assert mine.output_format == "text" and mine.output_schema is None
    assert reg.get("security_reviewer").origin == "shipped"


def test_overlay_can_be_disabled_or_given(overlay_dir, write_definition, tmp_path):
    write_definition(overlay_dir, "my_helper")
    assert "my_helper" not in Registry.load(overlay=None)
    assert "my_helper" not in Registry.load(overlay=False)
    other = tmp_path / "elsewhere"
    write_definition(other, "elsewhere_agent")
    reg = Registry.load(overlay=other)
    assert "elsewhere_agent" in reg and "my_helper" not in reg


def test_default_overlay_is_under_openclaw_state_dir(monkeypatch, tmp_path, write_definition):
    state = tmp_path / "state"
    monkeypatch.delenv("PARALLEL_AGENTS_HOME")
    monkeypatch.setenv("OPENCLAW_STATE_DIR", str(state))
    expected = state / "parallel-agents" / "agents"
    assert paths.user_home() == state / "parallel-agents"
    assert paths.overlay_agents() == expected
    write_definition(expected, "state_dir_agent")
    reg = Registry.load()
    assert reg.overlay == expected
    assert reg.get("state_dir_agent").origin == "overlay"
    # the validation cache goes there too, not to the real home folder
    assert (state / "parallel-agents" / "cache" / "validated-definitions.json").is_file()


def test_parallel_agents_home_wins_over_state_dir(monkeypatch, tmp_path, write_definition):
    home = tmp_path / "explicit-home"
    monkeypatch.setenv("PARALLEL_AGENTS_HOME", str(home))
    write_definition(home / "agents", "home_agent")
    write_definition(tmp_path / "openclaw-state" / "parallel-agents" / "agents", "state_agent")
    reg = Registry.load()
    assert "home_agent" in reg and "state_agent" not in reg


def test_missing_overlay_folder_is_fine(pa_home):
    assert not (pa_home / "agents").exists()
    reg = Registry.load()
    assert reg.names() == sorted(SHIPPED_NAMES)
    assert reg.problems == []


def test_empty_overlay_folder_is_fine(overlay_dir):
    assert Registry.load().names() == sorted(SHIPPED_NAMES)


def test_overlay_path_that_is_a_file_is_an_environment_problem(pa_home, cli):
    pa_home.mkdir(parents=True, exist_ok=True)
    (pa_home / "agents").write_text("not a folder\n")
    with pytest.raises(EnvironmentProblem) as caught:
        Registry.load()
    assert caught.value.exit_code == 3
    (problem,) = caught.value.problems
    assert "cannot be read" in problem.message
    assert problem.file == str(pa_home / "agents")
    code, out, err = cli("list")
    assert code == 3
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "cannot be read" in err


def test_unreadable_overlay_folder_is_an_environment_problem(overlay_dir, write_definition):
    write_definition(overlay_dir, "my_helper")
    overlay_dir.chmod(0)
    try:
        if os.access(overlay_dir, os.R_OK | os.X_OK):
            pytest.skip("running as a user (root) that can read a chmod 000 folder")
        with pytest.raises(EnvironmentProblem) as caught:
            Registry.load()
        assert "chmod" in caught.value.problems[0].fix
    finally:
        overlay_dir.chmod(0o755)


def test_overlay_alias_clashing_with_a_shipped_name_is_an_error(overlay_dir, write_definition):
    path = write_definition(overlay_dir, "my_helper", aliases=["code_reviewer"])
    with pytest.raises(DefinitionError) as caught:
        Registry.load()
    (problem,) = caught.value.problems
    assert problem.field == "aliases"
    assert "'code_reviewer'" in problem.message and "already taken" in problem.message
    assert problem.file == str(path)
    lax = Registry.load(strict=False)
    assert [str(p) for p in lax.problems] == [str(problem)]


def test_overlay_alias_clashing_with_a_shipped_alias_is_an_error(overlay_dir, write_definition):
    write_definition(overlay_dir, "my_helper", aliases=["pet_care_coordinator"])
    with pytest.raises(DefinitionError) as caught:
        Registry.load()
    assert "pet_care_coordinator" in str(caught.value)


def test_overlay_name_clashing_with_a_shipped_alias_is_an_error(overlay_dir, write_definition):
    write_definition(overlay_dir, "pet_care_coordinator")
    with pytest.raises(DefinitionError) as caught:
        Registry.load()
    assert "'pet_care_coordinator'" in str(caught.value)


def test_overlay_override_may_drop_the_shipped_alias(overlay_dir, write_definition):
    write_definition(overlay_dir, "donut_care_coordinator", aliases=["dog_care"])
    reg = Registry.load()
    assert reg.resolve("dog_care") == "donut_care_coordinator"
    assert "pet_care_coordinator" not in reg


def test_invalid_overlay_file_strict_and_lax(overlay_dir, write_definition):
    write_definition(overlay_dir, "good_helper")
    bad = write_definition(overlay_dir, "bad_helper", output_format="json")  # no output_schema
    with pytest.raises(DefinitionError) as caught:
        Registry.load()
    assert caught.value.exit_code == 1
    assert any(p.field == "output_schema" and p.file == str(bad) for p in caught.value.problems)
    lax = Registry.load(strict=False)
    assert "good_helper" in lax and "bad_helper" not in lax
    assert len(lax.problems) == 1 and lax.problems[0].field == "output_schema"


def test_same_name_twice_in_the_overlay_is_an_error(overlay_dir, write_definition):
    write_definition(overlay_dir / "a", "twin_agent")
    write_definition(overlay_dir / "b", "twin_agent")
    with pytest.raises(DefinitionError) as caught:
        Registry.load()
    (problem,) = caught.value.problems
    assert "defined twice" in problem.message and "twin_agent" in problem.message


# -- unknown names --------------------------------------------------------------------------------

def test_unknown_agent_suggests_close_names():
    reg = Registry.load()
    with pytest.raises(UnknownAgentError) as caught:
        reg.resolve("code_reviwer")
    error = caught.value
    assert error.name == "code_reviwer"
    assert error.suggestions[0] == "code_reviewer"
    assert error.exit_code == 2
    (problem,) = error.problems
    assert problem.field == "agent_type"
    assert "did you mean code_reviewer" in problem.fix
    with pytest.raises(UnknownAgentError) as caught:
        reg.get("pet_care_cordinator")
    assert "pet_care_coordinator" in caught.value.suggestions


def test_unknown_agent_matches_on_a_shared_word():
    suggestions = Registry.load().suggest("reviewer")
    assert suggestions and len(suggestions) <= 3
    assert all("reviewer" in s for s in suggestions)


def test_unknown_agent_with_nothing_close_points_at_list():
    with pytest.raises(UnknownAgentError) as caught:
        Registry.load().resolve("zzzzqqqq")
    assert caught.value.suggestions == []
    assert "list" in caught.value.problems[0].fix


# -- the validation cache -------------------------------------------------------------------------

@pytest.fixture
def check_calls(monkeypatch, warm_cache):
    """Counts calls of check_definition made by the registry (starting with no cache, and
    without the shipped validation index: these tests are about the user folder's cache)."""
    from parallel_agents.definitions import shipped_index
    monkeypatch.setattr(shipped_index, "INDEX", warm_cache.parent / "no-shipped-index.json")
    warm_cache.unlink()
    return count_full_validations(monkeypatch)


def test_second_load_skips_validation(check_calls, pa_home):
    Registry.load()
    assert sorted(check_calls) == sorted(SHIPPED_NAMES)
    cache_file = pa_home / "cache" / "validated-definitions.json"
    cached = json.loads(cache_file.read_text())
    assert len(cached["valid"]) == 25
    check_calls.clear()
    reg = Registry.load()
    assert check_calls == []
    assert reg.names() == sorted(SHIPPED_NAMES)


def test_editing_a_file_invalidates_its_cache_entry(check_calls, overlay_dir, write_definition):
    path = write_definition(overlay_dir, "my_helper")
    Registry.load()
    check_calls.clear()
    Registry.load()
    assert check_calls == []
    write_definition(overlay_dir, "my_helper", description="An edited description for my helper.")
    reg = Registry.load()
    assert check_calls == ["my_helper"]
    assert reg.get("my_helper").description == "An edited description for my helper."
    # an edit that breaks the file is caught although the old content was cached
    check_calls.clear()
    path.write_text(path.read_text().replace("output_format: text", "output_format: json"))
    with pytest.raises(DefinitionError):
        Registry.load()
    assert check_calls == ["my_helper"]


def test_cache_does_not_hide_a_renamed_file(overlay_dir, write_definition):
    path = write_definition(overlay_dir, "my_helper")
    Registry.load()
    path.rename(overlay_dir / "other_name.yaml")
    with pytest.raises(DefinitionError) as caught:
        Registry.load()
    assert "differs from the file name 'other_name'" in str(caught.value)


def test_corrupt_or_foreign_cache_is_ignored(check_calls, pa_home):
    cache_file = pa_home / "cache" / "validated-definitions.json"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text("{not json")
    assert len(Registry.load()) == 25
    assert len(check_calls) == 25
    # a cache written for another schema version is not trusted
    data = json.loads(cache_file.read_text())
    cache_file.write_text(json.dumps({**data, "schema": "0" * 16}))
    check_calls.clear()
    Registry.load()
    assert len(check_calls) == 25


def test_unwritable_cache_only_costs_speed(check_calls, pa_home):
    (pa_home / "cache").rmdir()  # empty: check_calls removed the warm cache
    (pa_home / "cache").write_text("a file where the cache folder should be")
    assert len(Registry.load()) == 25
    check_calls.clear()
    Registry.load()
    assert len(check_calls) == 25
