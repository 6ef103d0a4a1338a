"""One process at a time per run or plan: a lock file beside the journal (runs/ID.lock).

Two `resume` of one run would each spawn every unfinished task, and two `check --plan P` would
each record the same replies, because each reads the journal, then acts on what it read. So
`run` (for its new journal), `resume`, `plan` and `check` hold the lock of their run or plan from
before they read the journal until their last line is written.

The lock is fcntl.flock on the lock file: the OS drops it when the holder exits or is killed,
so a lock left by a killed process never blocks anyone (its file may stay behind, holding the
dead pid; the next holder takes it over). A process that finds the lock held waits a little
(`check` and `plan` are short; a `run` lasts minutes, so a second one is refused almost at once)
and then stops with one line naming the holder's pid and command, exit 3. The holder removes the
file when it is done; a waiter that gets the lock of a file removed meanwhile tries again, so two
processes never both believe they hold it. Where fcntl does not exist (Windows) nothing is locked.
"""
from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from parallel_agents.core.errors import EnvironmentProblem

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking
    fcntl = None

#: How long a second process waits for the lock before it gives up (seconds).
RUN_WAIT_S = 2.0       # a run or resume holds its lock for minutes: say so at once
PLAN_WAIT_S = 15.0     # check/plan hold it for well under a second (longer when reading a gateway)
_POLL_S = 0.05


class JournalInUse(EnvironmentProblem):
    """Another process holds the run's or plan's lock."""


def lock_path(journal_path: Path) -> Path:
    return Path(journal_path).with_suffix(".lock")


class JournalLock:
    """The lock of one journal. `kind` ("run" or "plan") and `command` only shape messages and
    what the lock file says of its holder."""

    def __init__(self, journal_path: Path, *, kind: str = "run", command: str = "",
                 wait: float | None = None):
        self.journal_path = Path(journal_path)
        self.path = lock_path(self.journal_path)
        self.kind = kind
        self.command = command or kind
        self.wait = (RUN_WAIT_S if kind == "run" else PLAN_WAIT_S) if wait is None else wait
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "JournalLock":
        if fcntl is None or self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(0.0, self.wait)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise self._in_use() from None
                time.sleep(_POLL_S)
                continue
            except BaseException:
                os.close(fd)
                raise
            if self._still_the_file(fd):
                break
            os.close(fd)     # its holder removed it as we took it: lock the file there now
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.command}\n".encode())
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)   # while still held: nobody can lock it in between
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "JournalLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def _still_the_file(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _in_use(self) -> JournalInUse:
        name = self.journal_path.stem
        try:
            pid, _, command = self.path.read_text(encoding="utf-8").strip().partition(" ")
        except (OSError, UnicodeDecodeError):
            pid, command = "", ""
        holder = f"process {pid} ({command or 'unknown command'})" if pid.isdigit() else "another process"
        if self.kind == "plan":
            return JournalInUse(
                f"plan {name} is in use by {holder}: waited {self.wait:g}s", file=self.path,
                field="--plan", fix=f"let that command finish, then run this check again (only one "
                                    f"`check --plan {name}` at a time)")
        return JournalInUse(
            f"run {name} is in use by {holder}", file=self.path, field="run_id",
            fix=f"only one process can run it at a time: wait for that one to end (`python3 "
                f"ai_orchestrator.py runs {name}` shows how far it got), then resume it if it "
                "stopped")


def holding_run_lock(method):
    """Decorates RealAIParallelOrchestrator.resume(self, run_id): the run's lock is held for the
    whole call. A run without a journal is left to the method (it says so, and no lock file is
    made for it)."""
    @functools.wraps(method)
    def locked(self, run_id, *args, **kwargs):
        from parallel_agents.engine.journal import Journal
        path = Journal(run_id, self.runs_folder).path
        if not path.exists():
            return method(self, run_id, *args, **kwargs)
        with JournalLock(path, kind="run", command="resume"):
            return method(self, run_id, *args, **kwargs)
    return locked
