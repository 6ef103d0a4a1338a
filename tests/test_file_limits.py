"""Nothing reads without bound, and what cannot be used is one located line (issue 14).

- Files: a FIFO, device or socket is refused before it is opened (exit 2); a regular file is
  read no further than its limit (+1 byte), never whole first.
- Release zips: an entry that inflates past its declared size (a zip bomb) is refused before
  inflating; entries inflate a chunk at a time under per-entry and total caps; a manifest is
  read as bounded JSON; a manifest whose version is not the code's own is refused.
- Values: integers past Python's digit limit (or that would pass it when printed), impossible
  dates, data nested past the cap: a Problem with file, line and field, not exit 70.
- Output schemas: a `$ref` must stay inside the schema or point at the definition schema.
- Dependency graphs and other user-sized structures: no recursion (a 1,500-task ring).

More cases of the same kinds, through the real CLI: tests/bad_input_files.py.
"""
from __future__ import annotations

import io
import json
import os
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from bad_input_files import zip_bomb
from support import definition_text
from test_package import make_release, rezip

from parallel_agents import __version__
from parallel_agents.engine import graph
from parallel_agents.core import yamlio
from parallel_agents.definitions.model import check_definition
from parallel_agents.core.errors import InputError, PackageError
from parallel_agents.replies.repair import parse_json_reply
from parallel_agents.release.manifest import MANIFEST, NAME
from parallel_agents.release.packaging import build_package
from parallel_agents.release.zipread import read_package

REPO = Path(__file__).resolve().parent.parent


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "(fix: " in lines[0], lines[0]
    assert "Traceback" not in err
    return lines[0]


# -- files that are not regular files ---------------------------------------------------------------

@pytest.fixture
def fifo(tmp_path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.fixture
def plan_id(run_cli, tmp_path, pa_home) -> str:
    tasks = tmp_path / "one.yaml"
    tasks.write_text("- {id: a, agent: code_reviewer, task: Review it}\n")
    code, out, err = run_cli("plan", "--tasks", tasks, "--json")
    assert code == 0, err
    return json.loads(out)["plan_id"]


@pytest.mark.parametrize("args", [
    ("run", "--tasks", "{fifo}", "--simulate"),
    ("plan", "--tasks", "{fifo}"),
    ("run", "--agent", "code_reviewer", "--task", "x", "--input", "{fifo}", "--simulate"),
    ("show", "code_reviewer", "--input", "{fifo}"),
    ("validate", "{fifo}"),
    ("install-agent", "{fifo}"),
    ("install", "--from", "{fifo}", "--target", "{tmp}/skill"),
], ids=lambda args: " ".join(args[:2]))
def test_a_fifo_is_refused_without_blocking(args, fifo, tmp_path, run_cli):
    """Opening a FIFO for reading waits for a writer: the old code hung here for good."""
    argv = [a.replace("{fifo}", str(fifo)).replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = run_cli(*argv, timeout=30)
    line = _one_error_line(err)
    assert code == 2
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in line
    assert "name a regular file" in line or "release zip" in line


def test_check_refuses_a_fifo_and_a_device_as_reply_files(plan_id, fifo, run_cli):
    for path in (fifo, Path("/dev/zero")):
        if not path.exists():
            continue
        code, out, err = run_cli("check", "--plan", plan_id, path, timeout=30)
        line = _one_error_line(err)
        assert code == 2 and f"{path}: is a" in line and "not a regular file" in line


def test_validate_names_a_device_as_bad_usage(run_cli):
    code, out, err = run_cli("validate", "/dev/null", timeout=30)
    assert code == 2 and "/dev/null: is a character device, not a regular file" in err


# -- regular files: read no further than the limit ----------------------------------------------------

def _peak_while(call) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        call()
        caught = None
    except BaseException as exc:  # noqa: BLE001 - handed back to the test
        caught = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, caught


def test_a_huge_file_is_refused_without_reading_it(tmp_path):
    """A 256 MB (sparse) file against a 1 MB limit: the old code read all of it first."""
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(256 << 20)
    peak, caught = _peak_while(lambda: yamlio.read_text(big, shown="big.yaml", max_bytes=1 << 20))
    assert isinstance(caught, InputError)
    assert "larger than the 1048576-byte limit" in str(caught) and caught.problems[0].fix
    assert peak < 8 << 20


class _Endless(io.RawIOBase):
    """A stream that never ends (like /dev/zero on stdin); counts what was asked of it."""

    def __init__(self):
        self.given = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), 1 << 16)
        buffer[:n] = b"a" * n
        self.given += n
        return n


def test_a_stream_is_read_no_further_than_its_limit():
    stream = _Endless()
    with pytest.raises(InputError) as caught:
        yamlio.read_stream(stream, shown="stdin", max_bytes=1000)
    assert stream.given <= 1001 + (1 << 16)  # one read of limit + 1 (in chunks)
    assert "stdin: more than the 1000-byte limit" in str(caught.value)
    assert yamlio.read_stream(io.BytesIO("a: é\n".encode()), max_bytes=1000) == "a: é\n"


def test_stdin_is_read_no_further_than_its_limit(monkeypatch):
    stream = _Endless()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(stream)))
    with pytest.raises(InputError):
        yamlio.read_stdin(max_bytes=10_000)
    assert stream.given < 200_000


# -- values Python cannot hold ----------------------------------------------------------------------

@pytest.mark.parametrize("text,line,field,message", [
    ("a: 1\nb: " + "9" * 4301 + "\n", 2, "b", "more than 4300 digits"),
    ("x:\n  - 1\n  - {n: 0x" + "f" * 3600 + "}\n", 3, "x[1].n", "more than 4300 digits"),
    ("n: 0b" + "1" * 15000 + "\n", 1, "n", "more than 4300 digits"),
    ("n: " + ":".join(["59"] * 2500) + "\n", 1, "n", "more than 4300 digits"),  # base 60
    ('[{"input": {"n": ' + "1" * 5000 + "}}]", 1, "[0].input.n", "more than 4300 digits"),
    ("when: 2024-13-45\n", 1, "when", "not a valid date"),
    ("when: 2024-02-30 10:00:00\n", 1, "when", "not a valid date"),
])
def test_values_python_cannot_hold_are_located_problems(text, line, field, message):
    data, problem = yamlio.parse(text, shown="f.yaml")
    assert data is None
    assert (problem.file, problem.line, problem.field) == ("f.yaml", line, field)
    assert message in problem.message and "quote it" in problem.fix


def test_values_python_can_hold_still_load():
    data, problem = yamlio.parse("a: " + "9" * 4300 + "\nb: 0x1f\nc: 2024-02-29\nd: 1:30\n",
                                 shown="f.yaml")
    assert problem is None
    assert data["a"] == int("9" * 4300) and data["b"] == 31 and data["d"] == 90


@pytest.mark.parametrize("text,message,line", [
    ('{\n"a": ' + "1" * 5000 + "}", "more than 4300 digits", 2),
    ("[" * 50_000 + "]" * 50_000, "nested more than 100 levels", None),
    ("[" * 101 + "]" * 101, "nested more than 100 levels", None),
    ('{"a": }', "not valid JSON", 1),
])
def test_load_json_gives_a_problem_not_an_exception(text, message, line):
    data, problem = yamlio.load_json(text, shown="M.json")
    assert data is None and message in problem.message and problem.line == line and problem.fix


def test_a_reply_with_a_huge_integer_is_an_invalid_reply_not_a_crash():
    result = parse_json_reply('{"answer": ' + "7" * 5000 + "}")
    assert result.value is None and "digits" in result.error


# -- output schemas: references stay inside -------------------------------------------------------------

def _json_agent(schema: dict) -> dict:
    return {"name": "ref_agent", "category": "testing", "output_format": "json",
            "description": "A json agent used by the test suite only.",
            "system_prompt": "You are a careful assistant. Read the input data, work through it "
                             "step by step, and reply with exactly what the task asks for.",
            "output_schema": schema}


@pytest.mark.parametrize("schema,field,says", [
    ({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}},
     "output_schema/properties/a", "'https://example.com/s.json' points outside"),
    ({"type": "array", "prefixItems": [{"type": "string"}, {"$ref": "file:///etc/passwd"}]},
     "output_schema/prefixItems/1", "'file:///etc/passwd' points outside"),
    ({"$defs": {"x": {"$ref": "other.json#/x"}}, "$ref": "#/$defs/x"},
     "output_schema/$defs/x", "'other.json#/x' points outside"),
    ({"type": "object", "properties": {"a": {"$dynamicRef": "https://example.com/s.json"}}},
     "output_schema/properties/a", "$dynamicRef"),
    ({"type": "object", "properties": {"default": {"$ref": "https://example.com/s.json"}}},
     "output_schema/properties/default", "points outside"),  # a field named like a keyword
    ({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
     "output_schema/properties/a", "points at nothing"),
    ({"type": "object", "properties": {"a": {"$ref": "urn:parallel-agents:agent-definition#/nope"}}},
     "output_schema/properties/a", "points at nothing"),
])
def test_an_output_schema_ref_that_leaves_it_is_refused(schema, field, says):
    """check_schema accepts all of these; the old check only followed the refs that validating
    {} reaches, so `validate` passed them and `run` crashed on the first reply."""
    problems = check_definition(_json_agent(schema), file="ref_agent.yaml")
    assert [p.field for p in problems] == [field]
    assert "unresolvable reference" in problems[0].message and says in problems[0].message
    assert "#/$defs/NAME" in problems[0].fix and "never fetched" in problems[0].fix


@pytest.mark.parametrize("schema", [
    {"$ref": "urn:parallel-agents:agent-definition"},
    {"type": "object", "properties": {"name": {"$ref": "urn:parallel-agents:agent-definition#/properties/name"}}},
    {"$defs": {"x": {"type": "string"}}, "type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}},
    {"type": "object", "properties": {"a": {"type": "object", "default": {"$ref": "https://x.example/"}}}},
    {"type": "object", "properties": {"a": {"$id": "https://example.com/inner",
                                            "$defs": {"y": {"type": "string"}}, "$ref": "#/$defs/y"}}},
])
def test_references_inside_the_schema_or_to_the_definition_schema_are_fine(schema):
    assert check_definition(_json_agent(schema), file="ref_agent.yaml") == []


def test_validate_names_the_file_line_and_field_of_a_url_ref(run_cli, tmp_path):
    path = tmp_path / "ref_agent.yaml"
    path.write_text(definition_text("ref_agent", output_format="json", output_schema={
        "type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}))
    code, out, err = run_cli("validate", path)
    assert code == 1 and "Traceback" not in out + err
    assert f"{path}:10: output_schema/properties/a: unresolvable reference" in out


def test_an_output_schema_too_deep_for_recursion_is_a_problem():
    """Defined in Python (YAML files are capped at 100 levels): jsonschema's check recursed."""
    schema: dict = {"type": "string"}
    for _ in range(400):
        schema = {"type": "array", "items": schema}
    (problem,) = check_definition(_json_agent(schema), file="deep.yaml")
    assert problem.field == "output_schema" and "nested more than 100 levels" in problem.message


# -- no recursion over user-sized graphs ------------------------------------------------------------

def test_cycle_check_is_iterative():
    n = 100_000
    chain = {f"t{i}": [f"t{i + 1}"] if i < n - 1 else [] for i in range(n)}
    assert graph.find_cycle(chain) is None
    graph.reject_cycles(chain)
    ring = {f"t{i}": [f"t{(i + 1) % n}"] for i in range(n)}
    cycle = graph.find_cycle(ring)
    assert cycle[0] == cycle[-1] == "t0" and len(cycle) == n + 1
    with pytest.raises(InputError) as caught:
        graph.reject_cycles(ring)
    assert "t0 -> t1" in str(caught.value) and f"({n - 8} more)" in str(caught.value)


def test_the_cycle_named_is_the_one_a_depth_first_walk_finds():
    assert graph.find_cycle({"a": ["b"], "b": ["c"], "c": ["b"]}) == ["b", "c", "b"]
    assert graph.find_cycle({"a": ["a"]}) == ["a", "a"]
    assert graph.find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_a_1500_task_ring_from_python_is_the_cycle_error():
    from ai_orchestrator import AgentTask, RealAIParallelOrchestrator
    from parallel_agents.simulation.simulated import simulated_runtime
    n = 1500
    tasks = [AgentTask(agent_type="code_reviewer", task_description="x", task_id=f"t{i}",
                       depends_on=[f"t{(i + 1) % n}"]) for i in range(n)]
    orchestrator = RealAIParallelOrchestrator(runtime=simulated_runtime(latency=(0, 0)))
    with pytest.raises(InputError) as caught:
        orchestrator.run_parallel(tasks)
    assert caught.value.problems[0].field == "depends_on"
    assert "cycle: t0 -> t1" in str(caught.value)


# -- release zips ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return Path(build_package(REPO, tmp_path_factory.mktemp("dist"))["path"])


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    """One entry declares 100 bytes and inflates to 192 MB: the old code inflated all of it
    (in one piece, then cut it to the declared size and failed the CRC)."""
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zip_bomb(inflated=192 << 20))
    peak, caught = _peak_while(lambda: read_package(bomb))
    assert isinstance(caught, PackageError), caught
    assert "bomb.txt" in str(caught) and "zip bomb" in str(caught)
    assert peak < 16 << 20


def test_entries_inflate_in_chunks_under_a_total_cap(tmp_path, monkeypatch):
    from parallel_agents.release import zipread
    zip_path = tmp_path / "big.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"{NAME}/f{i}.txt", b"x" * 300_000)
    monkeypatch.setattr(zipread, "MAX_UNPACKED_BYTES", 1_000_000)
    assert len(zipread._read_entries(zip_path)) == 3
    monkeypatch.setattr(zipread, "MAX_UNPACKED_BYTES", 800_000)
    with pytest.raises(PackageError) as caught:
        zipread._read_entries(zip_path)
    assert "too many or too large entries" in str(caught.value)


def test_only_deflate_is_inflated(release, tmp_path):
    """bz2 and lzma decompress a whole read at once (no output limit): not for a package."""
    odd = tmp_path / "bz2.zip"
    with zipfile.ZipFile(release) as src, zipfile.ZipFile(odd, "w", zipfile.ZIP_BZIP2) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
    with pytest.raises(PackageError) as caught:
        read_package(odd)
    assert "compression method 12" in str(caught.value) and "deflate only" in str(caught.value)


def test_a_zip_file_past_the_size_limit_is_refused_unopened(tmp_path, monkeypatch):
    from parallel_agents.release import zipread
    monkeypatch.setattr(zipread, "MAX_ZIP_BYTES", 1000)
    big = tmp_path / "big.zip"
    big.write_bytes(b"\0" * 2000)
    with pytest.raises(PackageError) as caught:
        read_package(big)
    assert "larger than the 1000-byte limit" in str(caught.value)


def _with_manifest(release: Path, dest: Path, change) -> Path:
    def edit(name, data):
        return change(data) if name.endswith(MANIFEST) else data
    return rezip(release, dest, edit)


def _set_version(version: str):
    def change(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["version"] = version
        return json.dumps(manifest).encode()
    return change


def test_a_manifest_version_that_is_not_the_codes_is_refused(release, tmp_path):
    lying = _with_manifest(release, tmp_path / "lying.zip", _set_version("9.9.9"))
    with pytest.raises(PackageError) as caught:
        read_package(lying)
    (problem,) = caught.value.problems
    assert problem.field == "version" and problem.fix
    assert f"says version 9.9.9 but the code in it is version {__version__}" in problem.message


@pytest.mark.parametrize("change,says", [
    (lambda d: d.replace(b'"format": 1', b'"format": ' + b"[" * 100_000 + b"]" * 100_000),
     "nested more than 100 levels"),
    (lambda d: d.replace(b'"format": 1', b'"format": ' + b"1" * 5000), "more than 4300 digits"),
], ids=["deep", "huge integer"])
def test_a_manifest_that_json_cannot_hold_is_one_line(release, tmp_path, run_cli, change, says):
    bad = _with_manifest(release, tmp_path / "bad.zip", change)
    code, out, err = run_cli("install", "--from", bad, "--target", tmp_path / "skill")
    line = _one_error_line(err)
    assert code == 1 and says in line and MANIFEST in line and "bad.zip" in line
    assert not (tmp_path / "skill").exists()


def test_install_and_upgrade_refuse_a_manifest_that_lies_about_the_version(release, tmp_path,
                                                                         run_cli):
    lying = _with_manifest(release, tmp_path / "lying.zip", _set_version("9.9.9"))
    target = tmp_path / "skill"
    code, out, err = run_cli("install", "--from", lying, "--target", target)
    assert code == 1 and "says version 9.9.9" in _one_error_line(err) and not target.exists()
    code, out, err = run_cli("install", "--from", release, "--target", target)
    assert code == 0, err
    before = (target / MANIFEST).read_bytes()
    code, out, err = run_cli("upgrade", lying, "--target", target)
    assert code == 1 and "says version 9.9.9" in _one_error_line(err)
    assert (target / MANIFEST).read_bytes() == before


def test_upgrade_compares_with_the_installed_codes_version(release, tmp_path, run_cli):
    """An installed folder whose manifest says 9.9.9 (a lying zip installed by an old version)
    must not block a real upgrade: the installed code's own version is what counts."""
    target = tmp_path / "skill"
    code, out, err = run_cli("install", "--from", release, "--target", target)
    assert code == 0, err
    manifest = json.loads((target / MANIFEST).read_text())
    (target / MANIFEST).write_text(json.dumps({**manifest, "version": "9.9.9"}))
    newer = make_release(tmp_path, "0.2.0")
    code, out, err = run_cli("upgrade", newer, "--target", target, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["from"] == __version__ and report["to"] == "0.2.0"
