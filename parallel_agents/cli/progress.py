"""Live progress on stderr from engine events: one rewriting line on a terminal, one line per
finished task otherwise (and one per workflow step). The engine never prints; this is the CLI's
view of its events."""
from __future__ import annotations

import sys
import time

FINAL = {"completed": "ok", "failed": "FAILED", "timeout": "TIMEOUT", "skipped": "skipped"}
WORKFLOW_EVENTS = {"refined": "refine {task_id}: {message}", "planned": "plan: {message}",
                   "installed": "installed {task_id}: {message}"}


class Progress:
    def __init__(self, total: int, stream=None, *, quiet: bool = False):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.quiet = quiet
        self.done = 0
        self.running: set[str] = set()
        self.counts: dict[str, int] = {}
        self.escalations = 0
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, event) -> None:
        if event.kind == "spawned":
            self.running.add(event.task_id)
        elif event.kind == "escalated":
            self.escalations += 1
        elif event.kind == "expanded":   # a group's items are tasks too
            count = event.message.split(" ", 1)[0]
            self.total += int(count) if count.isdigit() else 0
        elif event.kind in FINAL:
            self.running.discard(event.task_id)
            self.done += 1
            self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
            if not self.tty and not self.quiet:
                tier = f" on {event.tier}" if event.tier else ""
                why = f": {event.message}" if event.message else ""   # completed: "reused from run X"
                self._write(f"[{self.done}/{self.total}] {FINAL[event.kind]} {event.task_id} "
                            f"({event.agent_type}{tier}, {event.attempt} attempt(s)){why}\n")
        if self.tty and not self.quiet:
            now = time.monotonic()
            if now - self._last > 0.1 or self.done == self.total:
                self._last = now
                self._write("\r\033[K" + self.line())

    def line(self) -> str:
        parts = [f"{self.done}/{self.total} done", f"{len(self.running)} running"]
        parts += [f"{n} {k}" for k, n in sorted(self.counts.items()) if k != "completed"]
        if self.escalations:
            parts.append(f"{self.escalations} escalations")
        parts.append(f"{time.monotonic() - self.started:.1f}s")
        return " · ".join(parts)

    def close(self) -> None:
        if self.tty and not self.quiet:
            self._write("\r\033[K" + self.line() + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class WorkflowProgress(Progress):
    """Progress for workflows whose task count grows as they go (rounds, plan, synthesis):
    `[done/known]` per task, and one line per workflow step (refinement round, plan, install)."""

    def __init__(self, stream=None, *, quiet: bool = False):
        super().__init__(0, stream, quiet=quiet)
        self._seen: set[str] = set()

    def __call__(self, event) -> None:
        if event.kind in WORKFLOW_EVENTS:
            if not self.quiet:
                prefix = "\r\033[K" if self.tty else ""
                line = WORKFLOW_EVENTS[event.kind].format(task_id=event.task_id, message=event.message)
                self._write(f"{prefix}{line}\n")
            return
        if event.task_id not in self._seen and (event.kind == "queued" or event.kind in
                                                ("completed", "failed", "timeout", "skipped")):
            self._seen.add(event.task_id)
            self.total += 1
        super().__call__(event)
