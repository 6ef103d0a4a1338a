"""Agent definitions: the 25 shipped files are valid and follow the authoring rules, and every kind
of broken definition is refused with the right field, message and line -- by the library
(load_definition_file raising DefinitionError) and by `validate FILE` (exit 1, one
`file:line: field: message` line)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from parallel_agents.definitions import model as definitions
from parallel_agents.definitions.model import AgentDefinition, check_definition, load_definition_file
from parallel_agents.core.errors import DefinitionError
from parallel_agents.core.paths import display

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

SHIPPED_FILES = sorted(REPO.glob("agents/*/*.yaml"))
BROKEN = FIXTURES / "broken"
REVIEWERS = ["code_reviewer", "security_reviewer", "performance_reviewer",
             "accessibility_reviewer", "test_engineer", "agent_design_reviewer"]
LONG_NAME = "a" + "b" * 64  # 65 characters: one over the limit


def _shipped(name: str) -> Path:
    (path,) = [p for p in SHIPPED_FILES if p.stem == name]
    return path


def _load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- shipped definitions -----------------------------------------------------------------------

def test_there_are_25_shipped_definition_files():
    assert len(SHIPPED_FILES) == 25


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_shipped_definition_is_valid_and_filed_under_its_category(path):
    definition = load_definition_file(path, origin="shipped")
    assert definition.name == path.stem
    assert definition.category == path.parent.name
    assert definition.origin == "shipped"
    assert definition.source == str(path)
    # check_definition agrees with the loader, with and without the YAML text
    data = _load_yaml(path)
    assert check_definition(data, file=path, text=path.read_text(encoding="utf-8"),
                            expected_name=path.stem) == []
    assert check_definition(data) == []


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_output_schema_present_exactly_for_json_agents(path):
    definition = load_definition_file(path)
    if definition.output_format == "json":
        assert isinstance(definition.output_schema, dict) and definition.output_schema
    else:
        assert definition.output_schema is None
        assert "output_schema" not in _load_yaml(path)


@pytest.mark.parametrize("name", REVIEWERS)
def test_reviewers_require_a_numeric_score_from_0_to_10(name):
    definition = load_definition_file(_shipped(name))
    schema = definition.output_schema
    assert definition.output_format == "json"
    assert "score" in schema["required"]
    score = schema["properties"]["score"]
    assert score["type"] in ("number", "integer")
    assert score["minimum"] == 0
    assert score["maximum"] == 10
    # and the schema really enforces it
    validator = jsonschema.Draft202012Validator(score)
    assert validator.is_valid(7.5) and validator.is_valid(0) and validator.is_valid(10)
    assert not validator.is_valid(11) and not validator.is_valid(-1) and not validator.is_valid("9")


def _keyword_paths(schema, path=()):
    """Paths of `examples`/`default` used as keywords (not as property names)."""
    found = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("examples", "default"):
                found.append(path + (key,))
            if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
                for prop, sub in value.items():  # property names are not keywords
                    found += _keyword_paths(sub, path + (key, prop))
            else:
                found += _keyword_paths(value, path + (key,))
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            found += _keyword_paths(item, path + (i,))
    return found


def test_keyword_finder_finds_examples_and_default_but_not_property_names():
    schema = {"type": "object", "properties": {
        "default": {"type": "string", "description": "a property called default"},
        "x": {"type": "string", "examples": ["copied"]},
        "y": {"type": "array", "items": {"type": "string", "default": "copied"}}}}
    assert sorted(_keyword_paths(schema)) == [
        ("properties", "x", "examples"), ("properties", "y", "items", "default")]


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_no_examples_or_default_in_output_schemas(path):
    assert _keyword_paths(_load_yaml(path).get("output_schema")) == []


def _objects_and_properties(schema, path=()):
    """(path, object schema) for every object with properties; (path, property schema) pairs."""
    objects, props = [], []
    if isinstance(schema, dict):
        if isinstance(schema.get("properties"), dict):
            objects.append((path, schema))
            for name, sub in schema["properties"].items():
                props.append((path + (name,), sub))
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    o, p = _objects_and_properties(sub, path + (name,))
                    objects += o
                    props += p
            elif isinstance(value, (dict, list)):
                o, p = _objects_and_properties(value, path + (key,))
                objects += o
                props += p
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            o, p = _objects_and_properties(item, path + (i,))
            objects += o
            props += p
    return objects, props


# agent_creator's schema is a $ref to the definition schema, checked by the tests below
JSON_FILES = [p for p in SHIPPED_FILES
              if "output_schema" in _load_yaml(p) and p.stem != "agent_creator"]


def test_json_agents_are_all_but_documentation_writer():
    assert sorted(p.stem for p in JSON_FILES) == sorted(
        p.stem for p in SHIPPED_FILES if p.stem not in ("agent_creator", "documentation_writer"))


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.stem)
def test_output_schemas_follow_the_authoring_rules(path):
    """agents/README.md: additionalProperties false and `required` on every object; every
    property has a description or an enum."""
    schema = _load_yaml(path)["output_schema"]
    assert schema["type"] == "object"
    objects, props = _objects_and_properties(schema)
    assert objects, "a json agent's schema describes at least one object"
    for where, obj in objects:
        assert obj.get("additionalProperties") is False, where
        assert isinstance(obj.get("required"), list) and obj["required"], where
        assert set(obj["required"]) <= set(obj["properties"]), where
    for where, prop in props:
        assert "description" in prop or "enum" in prop or "const" in prop, where


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_system_prompts_name_no_models(path):
    from parallel_agents.core.config import load_config
    prompt = _load_yaml(path)["system_prompt"]
    models = [t.model for t in load_config(user=None).tiers if t.model]
    for model in models:
        assert model not in prompt
    assert not re.search(r"\b(claude|haiku|sonnet|opus|gpt-\d|gemini)\b", prompt, re.I)


def _creator_validator():
    creator = load_definition_file(_shipped("agent_creator"))
    return jsonschema.Draft202012Validator(creator.output_schema,
                                           registry=definitions.schema_registry())


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_agent_creator_schema_accepts_every_shipped_definition(path):
    errors = list(_creator_validator().iter_errors(_load_yaml(path)))
    assert errors == []


def test_agent_creator_schema_rejects_bad_definitions():
    validator = _creator_validator()
    good = _load_yaml(_shipped("code_reviewer"))
    assert validator.is_valid(good)
    extra = {**good, "temperature": 0.2}
    errors = list(validator.iter_errors(extra))
    assert [e.validator for e in errors] == ["additionalProperties"]
    assert "temperature" in errors[0].message
    no_schema = {k: v for k, v in good.items() if k != "output_schema"}
    assert not validator.is_valid(no_schema)       # json without output_schema
    assert not validator.is_valid({**good, "name": "Bad-Name"})
    assert not validator.is_valid({**good, "output_format": "markdown"})  # schema not allowed


def test_agent_orchestrator_schema_requires_complete_tasks():
    orchestrator = load_definition_file(_shipped("agent_orchestrator"))
    schema = orchestrator.output_schema
    task = schema["properties"]["tasks"]["items"]
    assert {"id", "agent_type", "description", "input", "depends_on"} <= set(task["required"])
    assert "tasks" in schema["required"]
    validator = jsonschema.Draft202012Validator(schema, registry=definitions.schema_registry())
    plan = {"summary": "Two reviews in parallel.", "synthesis": "Merge both reviews.",
            "tasks": [{"id": "review", "agent_type": "code_reviewer", "description": "Review it.",
                       "input": {"code": "x = 1"}, "depends_on": []},
                      {"id": "docs", "agent_type": "documentation_writer",
                       "description": "Document it.", "input": {}, "depends_on": ["review"]}]}
    assert list(validator.iter_errors(plan)) == []
    for field in ("id", "agent_type", "description", "input", "depends_on"):
        broken = json.loads(json.dumps(plan))
        del broken["tasks"][0][field]
        errors = list(validator.iter_errors(broken))
        assert errors and field in errors[0].message


def test_definition_round_trips_through_to_dict():
    path = _shipped("donut_care_coordinator")
    definition = load_definition_file(path)
    assert definition.aliases == ("pet_care_coordinator",)
    data = definition.to_dict()
    assert data == _load_yaml(path)
    assert AgentDefinition.from_dict(data) == definition


def test_check_definition_refuses_non_mappings():
    for value in (None, [], "name: x", 3):
        (problem,) = check_definition(value)
        assert "mapping" in problem.message and problem.line == 1


# -- the broken corpus -------------------------------------------------------------------------
# (file stem, field, message substring, line); line None = not pinned (a missing key).
# For problems without a field, the message substring is the start of the message.
BROKEN_CASES = [
    ("unknown_top_key", "temperature", "unknown key 'temperature'", 5),
    ("missing_name", "name", "is required", None),
    ("missing_system_prompt", "system_prompt", "is required", None),
    ("Upper_Case", "name", "'Upper_Case' does not match", 1),
    ("bad-hyphen", "name", "'bad-hyphen' does not match", 1),
    ("9lives", "name", "'9lives' does not match", 1),
    (LONG_NAME, "name", "does not match", 1),
    ("renamed_file", "name", "'original_name' differs from the file name 'renamed_file'", 3),
    ("format_not_in_enum", "output_format", "'xml' is not one of", 4),
    ("json_without_schema", "output_schema", "is required when output_format is json", None),
    ("markdown_with_schema", "output_schema", "is only allowed when output_format is json", 8),
    ("schema_bad_type", "output_schema/properties/answer/type", "not a valid JSON Schema", 12),
    ("schema_bad_ref", "output_schema", "unresolvable reference", 8),
    ("tier_bad_pattern", "tier", "'Fast Model!' does not match", 5),
    ("timeout_too_low", "timeout_seconds", "less than the minimum of 10", 5),
    ("timeout_too_high", "timeout_seconds", "greater than the maximum of 3600", 8),
    ("timeout_wrong_type", "timeout_seconds", "'120' is not of type 'integer'", 5),
    ("aliases_not_list", "aliases", "is not of type 'array'", 2),
    ("alias_bad_pattern", "aliases/1", "'Bad-Alias' does not match", 4),
    ("duplicate_key", "category", "key 'category' appears more than once", 5),
    ("yaml_syntax_error", None, "YAML syntax error", 4),
    ("empty_file", None, "a definition must be a YAML mapping", 1),
    ("list_not_mapping", None, "a definition must be a YAML mapping", 1),
    ("not_utf8", None, "not UTF-8 text", 3),
    ("description_too_short", "description", "is too short", 3),
]
CASE_IDS = [c[0] if c[0] != LONG_NAME else "name_too_long" for c in BROKEN_CASES]


def test_broken_corpus_matches_the_case_table():
    on_disk = sorted(p.stem for p in BROKEN.glob("*.yaml"))
    assert on_disk == sorted(c[0] for c in BROKEN_CASES)
    assert len(on_disk) >= 18
    assert len(LONG_NAME) == 65


def test_broken_fixtures_differ_only_in_the_intended_way():
    """Each fixture is named after the `name` it should have: only the mismatch case and the
    ones that cannot be read or have no name differ."""
    for path in BROKEN.glob("*.yaml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "name" in data and path.stem != "renamed_file":
            assert data["name"] == path.stem


def _line_pattern(shown: str, field, message: str, line) -> re.Pattern:
    where = re.escape(shown) + ":" + (str(line) if line else r"\d+") + ": "
    if field:
        return re.compile("^" + where + re.escape(field) + ": .*" + re.escape(message), re.M)
    return re.compile("^" + where + re.escape(message), re.M)


@pytest.mark.parametrize("stem,field,message,line", BROKEN_CASES, ids=CASE_IDS)
def test_broken_definition_raises_definition_error(stem, field, message, line):
    path = BROKEN / f"{stem}.yaml"
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(path)
    error = caught.value
    assert error.exit_code == 1
    assert len(error.problems) == 1, [str(p) for p in error.problems]
    (problem,) = error.problems
    assert problem.file == display(path) == f"tests/fixtures/broken/{stem}.yaml"
    assert problem.field == field
    assert message in problem.message
    if field is None:
        assert problem.message.startswith(message)
    if line is not None:
        assert problem.line == line
    else:
        assert isinstance(problem.line, int) and problem.line >= 1
    assert error.to_dict()["problems"][0]["message"] == problem.message


@pytest.mark.parametrize("stem,field,message,line", BROKEN_CASES, ids=CASE_IDS)
def test_validate_file_reports_the_problem_on_one_line(cli, stem, field, message, line):
    path = BROKEN / f"{stem}.yaml"
    code, out, err = cli("validate", path)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2, out  # the problem and the summary
    assert _line_pattern(display(path), field, message, line).match(lines[0]), lines[0]
    assert lines[1] == "1 problem(s) in 1 file(s) checked"
    assert "Traceback" not in out + err


def test_validate_broken_folder_in_a_subprocess(run_cli):
    code, out, err = run_cli("validate", "tests/fixtures/broken")
    assert code == 1, err
    assert "Traceback" not in out + err
    for stem, field, message, line in BROKEN_CASES:
        shown = f"tests/fixtures/broken/{stem}.yaml"
        assert _line_pattern(shown, field, message, line).search(out), (stem, out)
    assert out.splitlines()[-1] == f"{len(BROKEN_CASES)} problem(s) in {len(BROKEN_CASES)} file(s) checked"


def test_validate_json_reports_problems_as_data(cli):
    code, out, _ = cli("validate", "--json", BROKEN / "timeout_too_high.yaml")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["checked"] == ["tests/fixtures/broken/timeout_too_high.yaml"]
    (problem,) = report["problems"]
    assert problem["file"] == "tests/fixtures/broken/timeout_too_high.yaml"
    assert problem["line"] == 8
    assert problem["field"] == "timeout_seconds"
    assert "maximum of 3600" in problem["message"] and problem["fix"]


def test_validate_missing_path_is_a_problem(cli, tmp_path):
    code, out, _ = cli("validate", tmp_path / "nope.yaml")
    assert code == 1
    assert "no such file or folder" in out


def test_every_schema_problem_says_how_to_fix_it_except_tier():
    for stem, *_ in BROKEN_CASES:
        if stem == "tier_bad_pattern":
            continue
        with pytest.raises(DefinitionError) as caught:
            load_definition_file(BROKEN / f"{stem}.yaml")
        assert all(p.fix for p in caught.value.problems), stem


def test_bad_tier_says_how_to_fix_it():
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(BROKEN / "tier_bad_pattern.yaml")
    assert caught.value.problems[0].fix


# -- names must be unique across files -----------------------------------------------------------

def test_duplicate_names_across_two_files(cli):
    code, out, _ = cli("validate", FIXTURES / "dup_names")
    assert code == 1
    problems = [l for l in out.splitlines() if "already used" in l]
    assert problems
    for line in problems:
        assert line.startswith("tests/fixtures/dup_names/two/same_agent.yaml: name: 'same_agent'")
        assert "tests/fixtures/dup_names/one/same_agent.yaml" in line


def test_duplicate_aliases_across_two_files(cli):
    code, out, _ = cli("validate", FIXTURES / "dup_aliases")
    assert code == 1
    problems = [l for l in out.splitlines() if "already used" in l]
    assert problems
    for line in problems:
        assert line.startswith("tests/fixtures/dup_aliases/second_agent.yaml: aliases: "
                               "'shared_alias'")
        assert "tests/fixtures/dup_aliases/first_agent.yaml" in line


@pytest.mark.parametrize("folder", ["dup_names", "dup_aliases"])
def test_each_clash_is_reported_once(cli, folder):
    """validate_paths checks shipped names twice (alone, then with the overlay): once only."""
    code, out, _ = cli("validate", FIXTURES / folder)
    assert code == 1
    assert len([l for l in out.splitlines() if "already used" in l]) == 1
    assert out.splitlines()[-1].startswith("1 problem(s)")


def test_each_dup_fixture_file_is_valid_on_its_own(cli):
    for path in sorted((FIXTURES / "dup_names").rglob("*.yaml")) + \
            sorted((FIXTURES / "dup_aliases").glob("*.yaml")):
        code, out, _ = cli("validate", path)
        assert code == 0, out
