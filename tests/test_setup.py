"""`setup` and missing dependencies (issue 12, point 5): OpenClaw's `exec` runs Debian's system
python3, which has no jsonschema and whose pip refuses installs (PEP 668).

- Without jsonschema (an import blocker in front of this interpreter) or without anything (a
  venv made with --without-pip): every command that needs them, `import ai_orchestrator`'s
  names and `import helpers` fail with one line, exit 3 / MissingDependency, naming
  `<this python> <abs>/ai_orchestrator.py setup`; `setup`, `--help`, `--version` still run.
- The folder `setup` fills is used only when complete, and ahead of the interpreter's own
  packages.
- `setup` with a fake pip: interrupted or failing installs leave nothing that looks complete;
  a second run is a no-op; changed requirements reinstall.
- The real thing (marked `network`): `setup` with Debian's /usr/bin/python3 from PyPI, then a
  simulated run with that python3. Skipped when there is no such python3, except in CI
  (PARALLEL_AGENTS_REQUIRE_SYSTEM_PYTHON=1, set by .ci/run), where it fails instead.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import REPO

ENTRY = REPO / "ai_orchestrator.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")
REQUIRE_ENV = "PARALLEL_AGENTS_REQUIRE_SYSTEM_PYTHON"
JSONSCHEMA_FAMILY = "jsonschema,referencing,jsonschema_specifications,rpds"

# Runs a script (or `-c CODE`) with the top-level packages of argv[1] made unimportable, as in
# an interpreter that does not have them.
BLOCKER = '''
import runpy, sys
BLOCKED = set(sys.argv[1].split(","))
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocked())
if sys.argv[2] == "-c":
    sys.path.insert(0, "")
    exec(compile(sys.argv[3], "<test>", "exec"))
else:
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
'''

NEEDS_DEPENDENCIES = {
    "plan": ["plan", "--tasks", "examples/tasks.yaml"],
    "run": ["run", "--tasks", "examples/tasks.yaml", "--simulate"],
    "list": ["list"],
    "validate": ["validate"],
    "check": ["check", "--plan", "plan-1"],
    "show": ["show", "code_reviewer"],
}

API = '''
import json, ai_orchestrator
from ai_orchestrator import EnvironmentProblem, MissingDependency
out = {"version": ai_orchestrator.__version__}
try:
    ai_orchestrator.RealAIParallelOrchestrator
except ImportError as exc:
    out["api"] = [type(exc).__name__, isinstance(exc, EnvironmentProblem), exc.name, str(exc)]
try:
    import helpers
except MissingDependency as exc:
    out["helpers"] = [type(exc).__name__, isinstance(exc, ImportError), exc.exit_code, str(exc)]
print(json.dumps(out))
'''


def setup_command(python) -> str:
    return f"{python} {ENTRY} setup"


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PARALLEL_AGENTS_DEBUG")}
    env.update(extra)
    return env


def run(argv, env=None, timeout=60):
    done = subprocess.run(argv, cwd=REPO, env=env or _env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def blocked(modules: str, *args):
    """(code, stdout, stderr) of `python BLOCKER modules ai_orchestrator.py args...`."""
    return run([sys.executable, "-c", BLOCKER, modules, str(ENTRY), *args])


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """An interpreter with nothing installed: no jsonschema, no yaml, no pip."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    check = subprocess.run([str(python), "-c", "import yaml"], capture_output=True)
    assert check.returncode != 0, "the bare venv sees a yaml package"
    return str(python)


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- (a) without the packages --------------------------------------------------------------------

@pytest.mark.parametrize("command", list(NEEDS_DEPENDENCIES))
def test_without_jsonschema_every_command_names_setup(command, pa_home):
    code, out, err = blocked(JSONSCHEMA_FAMILY, *NEEDS_DEPENDENCIES[command])
    assert code == 3, err
    assert _one_error_line(err) == (
        f"error: dependencies: the Python package jsonschema is not installed for "
        f"{sys.executable} (fix: {setup_command(sys.executable)})")
    assert out == ""


@pytest.mark.parametrize("command", ["plan", "run"])
def test_without_jsonschema_json_output_names_setup(command, pa_home):
    code, out, err = blocked(JSONSCHEMA_FAMILY, *NEEDS_DEPENDENCIES[command], "--json")
    assert code == 3
    report = json.loads(out)
    assert report["error"] == "MissingDependency" and report["exit_code"] == 3
    assert report["problems"] == [{
        "field": "dependencies", "fix": setup_command(sys.executable),
        "message": f"the Python package jsonschema is not installed for {sys.executable}"}]


def test_too_old_jsonschema_without_referencing_names_setup(pa_home):
    """Debian 12's python3-jsonschema is 4.10: no `referencing`, which ours needs."""
    code, _, err = blocked("referencing", *NEEDS_DEPENDENCIES["plan"])
    assert code == 3
    line = _one_error_line(err)
    assert "jsonschema is missing or too old" in line and "'referencing'" in line
    assert line.endswith(f"(fix: {setup_command(sys.executable)})")


def test_api_and_helpers_raise_missing_dependency(pa_home):
    code, out, err = run([sys.executable, "-c", BLOCKER, JSONSCHEMA_FAMILY, "-c", API])
    assert code == 0, err
    result = json.loads(out)
    message = (f"dependencies: the Python package jsonschema is not installed for "
               f"{sys.executable} (fix: {setup_command(sys.executable)})")
    assert result["api"] == ["MissingDependency", True, "jsonschema", message]
    assert result["helpers"] == ["MissingDependency", True, 3, message]


@pytest.mark.parametrize("command", list(NEEDS_DEPENDENCIES))
def test_bare_python_every_command_names_setup(command, bare_python, pa_home):
    code, out, err = run([bare_python, str(ENTRY), *NEEDS_DEPENDENCIES[command]])
    assert code == 3
    assert _one_error_line(err) == (
        f"error: dependencies: the Python packages jsonschema and pyyaml are not installed for "
        f"{bare_python} (fix: {setup_command(bare_python)})")


def test_bare_python_api(bare_python, pa_home):
    code, out, err = run([bare_python, "-c", API])
    assert code == 0, err
    result = json.loads(out)
    assert result["api"][:3] == ["MissingDependency", True, "jsonschema"]
    assert result["api"][3].endswith(f"(fix: {setup_command(bare_python)})")
    assert result["helpers"][:3] == ["MissingDependency", True, 3]


def test_bare_python_runs_help_version_doctor_and_says_pip_is_missing(bare_python, pa_home):
    assert run([bare_python, str(ENTRY), "--version"])[0] == 0
    code, out, _ = run([bare_python, str(ENTRY), "--help"])
    assert code == 0 and "setup" in out
    code, out, _ = run([bare_python, str(ENTRY), "doctor"])
    assert code == 1
    assert (f"dependencies: the Python packages jsonschema and pyyaml are not installed for "
            f"{bare_python} (fix: {setup_command(bare_python)})") in out
    code, out, err = run([bare_python, str(ENTRY), "setup"])
    assert code == 3 and out == ""
    assert _one_error_line(err) == (f"error: setup: pip is not installed for {bare_python} "
                                    f"(fix: {bare_python} -m ensurepip, then run setup again)")
    code, out, err = run([bare_python, str(ENTRY), "setup", "--json"])
    assert code == 3 and json.loads(out)["problems"][0]["field"] == "setup"
    assert not pa_home.exists()


def test_cli_turns_a_dependency_import_error_into_exit_3(cli, monkeypatch):
    """Found but not importable (a broken or half-deleted install): still one line and exit 3;
    an ImportError of our own code stays an internal error."""
    from parallel_agents.cli import main as cli_module

    def broken(args, out):
        raise ModuleNotFoundError("No module named 'rpds.rpds'", name="rpds.rpds")

    monkeypatch.setattr(cli_module, "cmd_list", broken)
    code, _, err = cli("list")
    assert code == 3
    assert _one_error_line(err).endswith(f"(fix: {setup_command(sys.executable)})")
    assert "jsonschema is missing or too old" in err and "rpds.rpds" in err

    def bug(args, out):
        raise ImportError("cannot import name 'X' from 'parallel_agents.engine.tasks'",
                          name="parallel_agents.engine.tasks")

    monkeypatch.setattr(cli_module, "cmd_list", bug)
    code, _, err = cli("list")
    assert code == 70 and "internal error" in err


# -- the folder on sys.path --------------------------------------------------------------------

def _fake_package_folder(pa_home: Path, complete: bool) -> Path:
    from parallel_agents.core.deps import COMPLETE_MARKER, packages_dir
    folder = packages_dir()
    (folder / "jsonschema").mkdir(parents=True)
    (folder / "jsonschema" / "__init__.py").write_text("FROM_SETUP = True\n")
    if complete:
        (folder / COMPLETE_MARKER).write_text("{}")
    return folder


@pytest.mark.parametrize("complete", [True, False])
def test_setup_folder_is_used_first_only_when_complete(complete, pa_home):
    folder = _fake_package_folder(pa_home, complete)
    code, out, err = run([sys.executable, "-c", "import sys, ai_orchestrator, jsonschema; "
                          "print(getattr(jsonschema, 'FROM_SETUP', False), sys.path.index("
                          f"{str(folder)!r}) if {str(folder)!r} in sys.path else -1)"])
    assert code == 0, err
    used, index = out.split()
    assert used == str(complete)
    if complete:  # right after the skill folder: ahead of the interpreter's site-packages
        assert int(index) == 1


# -- (c) setup with a fake pip ---------------------------------------------------------------------

FAKE_PIP = '''
import os, signal, sys
args = sys.argv[1:]
target = args[args.index("--target") + 1]
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
mode = os.environ["FAKE_PIP"]
modules = ["jsonschema", "referencing", "jsonschema_specifications", "rpds", "attrs", "yaml"]
os.makedirs(target)
for name in modules[: 2 if mode != "ok" else None]:
    os.makedirs(os.path.join(target, name))
    open(os.path.join(target, name, "__init__.py"), "w").close()
    info = os.path.join(target, name + "-1.0.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n")
if mode == "fail":
    print("WARNING: Running pip as the 'root' user can result in broken permissions")
    print("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device")
    sys.exit(1)
if mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """Makes `setup` run a fake pip; returns set_mode(mode) -> the log of pip calls."""
    from parallel_agents.release import depsetup
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    log = tmp_path / "pip-calls.log"
    monkeypatch.setattr(depsetup, "pip_command", lambda: [sys.executable, str(script)])
    monkeypatch.setenv("FAKE_PIP_LOG", str(log))
    monkeypatch.setattr(sys, "path", list(sys.path))  # use_user_packages may add to it

    def set_mode(mode: str) -> Path:
        monkeypatch.setenv("FAKE_PIP", mode)
        return log

    return set_mode


def _calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _python_root(pa_home: Path) -> list[str]:
    root = pa_home / "python"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("mode,reason", [
    ("fail", "pip could not install jsonschema>=4.18, pyyaml>=6.0 for {python}: Could not "
             "install packages due to an OSError: [Errno 28] No space left on device"),
    ("kill", "pip could not install jsonschema>=4.18, pyyaml>=6.0 for {python}: pip was stopped "
             "by signal 9"),
])
def test_failed_install_leaves_nothing_that_looks_complete(mode, reason, fake_pip, cli, pa_home):
    from parallel_agents.core.deps import packages_dir, use_user_packages
    log = fake_pip(mode)
    code, out, err = cli("setup", "--force")
    assert code == 3 and out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("setup: installing jsonschema>=4.18, pyyaml>=6.0 for ")
    assert lines[1:] == [f"error: setup: {reason.format(python=sys.executable)} (fix: check "
                         "that this machine reaches the package index (pip's settings apply: "
                         "pip.conf, PIP_INDEX_URL), then run "
                         f"{setup_command(sys.executable)} again)"]
    assert _calls(log) == 1
    assert not packages_dir().exists() and _python_root(pa_home) == []
    assert use_user_packages() is None


def test_interrupted_install_is_cleaned_up(fake_pip, cli, pa_home, monkeypatch):
    """Ctrl-C while pip runs: the half-filled temp folder goes, nothing is renamed into place."""
    from parallel_agents.release import depsetup
    from parallel_agents.core.deps import packages_dir
    real_run = subprocess.run

    def interrupted(argv, **kwargs):
        real_run(argv, **kwargs)  # fills the temp folder with two of the six packages
        raise KeyboardInterrupt

    monkeypatch.setattr(depsetup.subprocess, "run", interrupted)
    fake_pip("fail")
    code, _, err = cli("setup", "--force")
    assert code == 130 and err.strip().endswith("interrupted")
    assert not packages_dir().exists() and _python_root(pa_home) == []


def test_setup_installs_once_then_is_a_no_op(fake_pip, cli, pa_home, monkeypatch, tmp_path):
    from parallel_agents.core import deps
    from parallel_agents.release.depsetup import requirements_hash
    root = deps.packages_dir().parent
    killed = root / f".{deps.python_tag()}.partial-999999"  # a setup killed earlier
    (killed / "jsonschema").mkdir(parents=True)
    assert deps.use_user_packages() is None
    log = fake_pip("ok")

    code, out, err = cli("setup", "--force", "--json")  # --force: this venv has them already
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "installed" and report["folder"] == str(deps.packages_dir())
    assert report["packages"]["jsonschema"] == "1.0" and report["python"] == sys.executable
    marker = json.loads((deps.packages_dir() / deps.COMPLETE_MARKER).read_text())
    assert marker["requirements_sha256"] == requirements_hash()
    assert _python_root(pa_home) == [deps.python_tag()]  # the killed one's leftovers are gone
    assert deps.use_user_packages() == deps.packages_dir()
    assert "--target" in log.read_text() and "--break-system-packages" not in log.read_text()

    code, out, err = cli("setup")
    assert code == 0 and _calls(log) == 1
    assert out.startswith(f"already set up for {sys.executable} in {deps.packages_dir()}")
    assert err == ""

    (deps.packages_dir() / "rpds" / "__init__.py").unlink()  # something deleted it
    (deps.packages_dir() / "rpds").rmdir()
    assert cli("setup")[0] == 0 and _calls(log) == 2

    changed = tmp_path / "requirements.txt"  # a new version's requirements
    changed.write_text("jsonschema>=4.19\npyyaml>=6.0\n")
    monkeypatch.setattr(deps, "REQUIREMENTS", changed)
    code, out, _ = cli("setup")
    assert code == 0 and out.startswith("set up ") and _calls(log) == 3
    assert cli("setup")[0] == 0 and _calls(log) == 3
    assert _python_root(pa_home) == [deps.python_tag()]


def test_setup_is_not_needed_when_this_python_has_the_packages(fake_pip, cli, pa_home):
    log = fake_pip("fail")
    code, out, err = cli("setup")
    assert code == 0 and _calls(log) == 0
    assert out.startswith(f"nothing to do: {sys.executable} has jsonschema>=4.18 and pyyaml>=6.0")
    assert not pa_home.exists()


def test_pip_missing_names_apt_on_debian(cli, pa_home, monkeypatch, tmp_path):
    from parallel_agents.release import depsetup
    debian = tmp_path / "debian_version"
    debian.write_text("12.5\n")
    real_find_spec = depsetup.importlib.util.find_spec
    monkeypatch.setattr(depsetup.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pip" else real_find_spec(name, *a))
    monkeypatch.setattr(depsetup, "DEBIAN", debian)
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)  # not a venv: the system python3
    code, out, err = cli("setup", "--force")
    assert code == 3 and out == ""
    version = "%d.%d" % sys.version_info[:2]
    assert _one_error_line(err) == (
        f"error: setup: pip is not installed for {sys.executable} (fix: sudo apt install "
        f"python3-pip, then run setup again (or run setup with a python{version} that has pip))")


# -- (b) the real thing: Debian's python3, PyPI ----------------------------------------------------

def _system_python_or_skip() -> str:
    probe = ("import importlib.util as u, sys; print(sys.version_info >= (3, 10), "
             "u.find_spec('pip') is not None, u.find_spec('referencing') is not None)")
    reason = None
    if not SYSTEM_PYTHON.exists():
        reason = f"{SYSTEM_PYTHON} does not exist"
    else:
        done = subprocess.run([str(SYSTEM_PYTHON), "-I", "-c", probe], capture_output=True,
                              text=True, env=_env())
        recent, pip, referencing = (done.stdout.split() + ["?"] * 3)[:3]
        if recent != "True":
            reason = f"{SYSTEM_PYTHON} is older than 3.10"
        elif pip != "True":
            reason = f"{SYSTEM_PYTHON} has no pip (sudo apt install python3-pip)"
        elif referencing != "False":
            reason = f"{SYSTEM_PYTHON} has jsonschema>=4.18 already: nothing to show"
    if reason:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return str(SYSTEM_PYTHON)


@pytest.mark.network
def test_setup_with_debians_python3_from_pypi(pa_home, tmp_path):
    python = _system_python_or_skip()
    env = _env(PATH="/usr/bin:/bin", PARALLEL_AGENTS_HOME=str(pa_home),
               OPENCLAW_STATE_DIR=str(tmp_path / "state"))
    code, _, err = run([python, str(ENTRY), "plan", "--tasks", "examples/tasks.yaml"], env)
    assert code == 3  # the bug: exit 70, "No module named 'referencing'"
    assert _one_error_line(err).endswith(f"(fix: {setup_command(python)})")

    started = time.monotonic()
    code, out, err = run([python, str(ENTRY), "setup", "--json"], env, timeout=180)
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "installed", report
    assert {"jsonschema", "referencing", "rpds-py"} <= set(report["packages"])
    assert Path(report["folder"]).parent == pa_home / "python"
    assert time.monotonic() - started < 60

    code, out, err = run([python, str(ENTRY), "run", "--tasks", "examples/tasks.yaml",
                          "--simulate", "--json"], env)
    assert code == 0, err
    results = json.loads(out)["results"]
    assert results and all(r["status"] == "completed" for r in results)
    code, out, err = run([python, "-c", "import ai_orchestrator, helpers, jsonschema; "
                          "print(ai_orchestrator.RealAIParallelOrchestrator.__name__, "
                          "jsonschema.__file__)"], env)
    assert code == 0, err
    assert out.split() == ["RealAIParallelOrchestrator",
                           str(Path(report["folder"]) / "jsonschema" / "__init__.py")]

    started = time.monotonic()
    code, out, err = run([python, str(ENTRY), "setup"], env)
    assert code == 0, err
    assert out.startswith(f"already set up for {python} in {report['folder']}")
    assert time.monotonic() - started < 5
