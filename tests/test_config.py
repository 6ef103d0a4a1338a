"""Settings: the shipped config.yaml is valid; the user's $PARALLEL_AGENTS_HOME/config.yaml is laid
on top (mappings merge key by key, lists and scalars are replaced); bad values are reported with
the file and line they came from and the field."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from parallel_agents.core.config import load_config
from parallel_agents.core.errors import ConfigError
from parallel_agents.core.paths import SHIPPED_CONFIG

REPO = Path(__file__).resolve().parent.parent

SHIPPED = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def user_config(pa_home):
    """write(text) -> path of $PARALLEL_AGENTS_HOME/config.yaml with that text."""
    def write(text: str) -> Path:
        pa_home.mkdir(parents=True, exist_ok=True)
        path = pa_home / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return path
    return write


def _problems(**kwargs):
    with pytest.raises(ConfigError) as caught:
        load_config(**kwargs)
    assert caught.value.exit_code == 1
    return caught.value.problems


# -- shipped --------------------------------------------------------------------------------------

def test_shipped_config_is_valid():
    assert SHIPPED_CONFIG == REPO / "config.yaml"
    config = load_config(user=None)
    assert config.data == SHIPPED
    assert config.max_concurrent == 5
    assert config.default_timeout_seconds == 120
    assert config.tier_names == ["fast", "balanced", "strongest"]
    assert [t.name for t in config.tiers] == config.tier_names
    assert len(set(config.tier_names)) == len(config.tier_names)
    assert config.budget_usd is None
    assert config.max_input_bytes == 200000
    assert set(config.retry) == {"transient_attempts", "backoff_seconds", "backoff_max_seconds",
                                 "reask_invalid"}
    for tier in config.tiers:  # every example model is priced
        if tier.model:
            assert set(config.prices[tier.model]) == {"input", "output"}


def test_shipped_agents_start_on_a_configured_tier():
    tiers = set(load_config(user=None).tier_names)
    for path in sorted(REPO.glob("agents/*/*.yaml")):
        tier = yaml.safe_load(path.read_text(encoding="utf-8")).get("tier")
        assert tier is None or tier in tiers, path.name


def test_no_user_config_means_the_shipped_one(pa_home):
    assert not (pa_home / "config.yaml").exists()
    assert load_config().data == SHIPPED


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_user_config_changes_nothing(user_config, text):
    user_config(text)
    assert load_config().data == SHIPPED


# -- merging --------------------------------------------------------------------------------------

def test_user_config_merges_mappings_and_replaces_lists(user_config):
    user_config(
        "max_concurrent: 12\n"
        "retry:\n"
        "  transient_attempts: 5\n"
        "tiers:\n"
        "  - name: local\n"
        "    model: null\n"
        "prices:\n"
        "  my/model: {input: 0.5, output: 1.5}\n"
        "budget_usd: 2.5\n")
    before = copy.deepcopy(SHIPPED)
    config = load_config()
    assert config.max_concurrent == 12                       # scalar replaced
    assert config.retry == {**SHIPPED["retry"], "transient_attempts": 5}  # mapping merged
    assert config.tier_names == ["local"]                    # list replaced whole
    assert config.tiers[0].model is None
    assert config.prices == {**SHIPPED["prices"], "my/model": {"input": 0.5, "output": 1.5}}
    assert config.budget_usd == 2.5
    assert config.default_timeout_seconds == SHIPPED["default_timeout_seconds"]
    # the shipped settings are untouched
    assert load_config(user=None).data == before


def test_nested_mappings_merge_key_by_key(user_config):
    user_config("prices:\n  anthropic/claude-haiku-4-5: {input: 2.0}\n")
    config = load_config()
    assert config.prices["anthropic/claude-haiku-4-5"] == {"input": 2.0, "output": 5.0}


def test_explicit_user_path(tmp_path):
    path = tmp_path / "elsewhere.yaml"
    path.write_text("max_concurrent: 3\n", encoding="utf-8")
    assert load_config(user=path).max_concurrent == 3
    assert load_config(user=tmp_path / "missing.yaml").data == SHIPPED


# -- bad values -----------------------------------------------------------------------------------

BAD_VALUES = [
    ("max_concurrent: 0\n", "max_concurrent", 1, "less than the minimum of 1"),
    ("max_concurrent: five\n", "max_concurrent", 1, "is not of type 'integer'"),
    ("# comment\n\ndefault_timeout_seconds: 4000\n", "default_timeout_seconds", 3,
     "greater than the maximum of 3600"),
    ("retry:\n  transient_attempts: 2\n  backoff_seconds: -1\n", "retry/backoff_seconds", 3,
     "less than the minimum of 0"),
    ("retry:\n  reask_invalid: maybe\n", "retry/reask_invalid", 2, "is not of type 'boolean'"),
    ("tiers:\n  - name: fast\n    model: a/b\n  - name: Bad Tier\n    model: null\n",
     "tiers/1/name", 4, "does not match"),
    ("tiers:\n  - name: fast\n    model: 7\n", "tiers/0/model", 3, "is not of type"),
    ("tiers: []\n", "tiers", 1, "should be non-empty"),
    ("prices:\n  my/model: {input: -1, output: 2}\n", "prices/my/model/input", 2,
     "less than the minimum of 0"),
    ("prices:\n  my/model: {input: 1}\n", "prices/my/model", 2, "'output' is a required property"),
    ("budget_usd: 0\n", "budget_usd", 1, "less than or equal to the minimum of 0"),
    ("max_input_bytes: 10\n", "max_input_bytes", 1, "less than the minimum of 1000"),
]


@pytest.mark.parametrize("text,field,line,message", BAD_VALUES,
                         ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_VALUES)])
def test_bad_value_is_named_with_file_line_and_field(user_config, text, field, line, message):
    path = user_config(text)
    (problem,) = _problems()
    assert problem.file == str(path)
    assert problem.line == line
    assert problem.field == field
    assert message in problem.message
    assert problem.fix
    assert str(problem).startswith(f"{path}:{line}: {field}: ")


def test_several_bad_values_are_all_reported(user_config):
    path = user_config("max_concurrent: 0\nretry:\n  backoff_seconds: -1\nbudget_usd: -5\n")
    problems = _problems()
    assert sorted((p.field, p.line) for p in problems) == [
        ("budget_usd", 4), ("max_concurrent", 1), ("retry/backoff_seconds", 3)]
    assert {p.file for p in problems} == {str(path)}


def test_unknown_key(user_config):
    path = user_config("max_concurrent: 3\nmax_concurent: 4\n")
    (problem,) = _problems()
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "max_concurent")
    assert problem.message == "unknown key 'max_concurent'"
    assert "max_concurrent" in problem.fix


def test_unknown_nested_key(user_config):
    path = user_config("retry:\n  transient_attempts: 2\n  backof_seconds: 3\n")
    (problem,) = _problems()
    assert (problem.file, problem.line, problem.field) == (str(path), 3, "retry/backof_seconds")
    assert "backoff_seconds" in problem.fix


def test_every_unknown_key_is_reported(user_config):
    user_config("colour: blue\nflavour: mint\n")
    assert sorted(p.field for p in _problems()) == ["colour", "flavour"]


def test_tier_names_must_be_unique(user_config):
    user_config("tiers:\n  - name: fast\n    model: a/b\n  - name: fast\n    model: null\n")
    (problem,) = _problems()
    assert problem.field == "tiers/1/name"
    assert "tier name 'fast' is used twice" in problem.message
    assert problem.fix


def test_duplicate_tier_name_is_located(user_config):
    path = user_config("tiers:\n  - name: fast\n    model: a/b\n  - name: fast\n    model: null\n")
    (problem,) = _problems()
    assert (problem.file, problem.line) == (str(path), 4)


def test_bad_value_in_the_shipped_file_is_blamed_on_it(tmp_path):
    shipped = tmp_path / "shipped.yaml"
    shipped.write_text((REPO / "config.yaml").read_text().replace("max_concurrent: 5",
                                                                  "max_concurrent: -5"))
    (problem,) = _problems(user=None, shipped=shipped)
    assert problem.file == str(shipped)
    assert problem.line == shipped.read_text().splitlines().index("max_concurrent: -5") + 1


def test_bad_nested_value_is_blamed_on_the_file_that_set_it(tmp_path):
    shipped = tmp_path / "shipped.yaml"
    text = (REPO / "config.yaml").read_text().replace("backoff_seconds: 1.0", "backoff_seconds: -1.0")
    shipped.write_text(text)
    user = tmp_path / "user.yaml"
    user.write_text("retry:\n  transient_attempts: 5\n")
    (problem,) = _problems(user=user, shipped=shipped)
    assert problem.file == str(shipped)
    assert problem.line == text.splitlines().index("  backoff_seconds: -1.0") + 1


@pytest.mark.parametrize("text,expected,line", [
    ("- max_concurrent: 3\n", "must be a YAML mapping", 1),
    ("max_concurrent: 3\nretry: [unclosed\n", "YAML syntax error", 3),
    ("max_concurrent: 3\n  bad: indent\n", "YAML syntax error", 2),
])
def test_unreadable_user_config(user_config, text, expected, line):
    path = user_config(text)
    (problem,) = _problems()
    assert expected in problem.message
    assert (problem.file, problem.line) == (str(path), line)


def test_settings_that_passed_are_not_validated_again_and_a_change_is(user_config, monkeypatch):
    """Every command reads the settings: once they passed under this schema, the next read skips
    jsonschema (its import alone is tens of ms); any change to them is validated again."""
    from parallel_agents.core import config as config_module
    user_config("max_concurrent: 3\n")
    assert load_config().max_concurrent == 3                     # validated, and remembered

    def no_jsonschema(name):
        raise AssertionError(f"{name} used for settings that already passed")
    with monkeypatch.context() as patched:
        patched.setattr(config_module, "require", no_jsonschema)
        assert load_config().max_concurrent == 3                 # the same: not validated again

    user_config("max_concurrent: 0\n")                           # changed and invalid
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "max_concurrent" in str(info.value.problems[0])


def test_the_shipped_settings_digest_is_current():
    """config-valid.txt lets the first command after an install skip jsonschema for the shipped
    settings: it must be the digest of the shipped config.yaml as it is, which must be valid."""
    from parallel_agents.core import config
    settings = config.shipped_settings()
    assert config.schema_errors(settings) == []
    assert config.SHIPPED_DIGEST.read_text(encoding="ascii").strip() == \
        config.settings_digest(settings), \
        "config.yaml or config.schema.json changed: python3 -m parallel_agents.definitions.shipped_index"


def test_the_shipped_settings_need_no_jsonschema_in_a_fresh_user_folder(tmp_path):
    import os
    import subprocess
    import sys
    code = ("import sys; from parallel_agents.core.config import load_config; load_config(); "
            "print('jsonschema' in sys.modules)")
    env = {**os.environ, "PARALLEL_AGENTS_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert not (tmp_path / "home").exists()   # and nothing had to be remembered


def test_settings_that_differ_from_the_shipped_ones_are_still_validated(user_config, pa_home):
    user_config("max_concurrent: 0\n")
    with pytest.raises(ConfigError) as err:
        load_config()
    assert err.value.problems[0].field == "max_concurrent"
