"""One case of the bad-input corpus (tests/test_bad_input.py runs them): what a user typed, the
exit code and error line they get. Modules named tests/bad_input_*.py add CASES of their own."""
from __future__ import annotations

from dataclasses import dataclass, field

SIM = "--simulate"
RUN_TASKS = ("run", "--tasks", "tasks.yaml", SIM)
REVIEW = ("run", "--agent", "code_reviewer", "--task", "Review it", SIM)
RIGHT_TOKEN = "right-token-for-the-fake"


@dataclass(frozen=True)
class Case:
    args: tuple
    code: int
    says: tuple                      # fragments of the error line: file:line, field, what
    files: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)   # "{gateway}", "{denying}", "{closed}" filled in
    json: bool = False               # also run with --json
    journal: bool = False            # the run started, then the gateway stopped it
