"""Typed errors. Library code raises these; the CLI renders them as one line each.

Every user-facing error names where the problem is (file, line, field), what is wrong, and the
fix. Exit codes: 1 = the input was checked and found invalid / tasks failed, 2 = bad usage or
input that could not be read, 3 = the environment is missing something (dependency, runtime).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem, rendered as `file:line: field: message (fix: ...)`."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        field = f"{self.field}: " if self.field else ""
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}{field}{self.message}{fix}"

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


_KINDS = {"integer": "a whole number", "number": "a number", "string": "text",
          "boolean": "true or false", "array": "a list", "object": "a mapping", "null": "null"}


def schema_fix(error) -> str | None:
    """The fix for a JSON Schema validation error of a generic kind (type, range, enum, length),
    in words a person can act on; None for kinds that need their context to explain."""
    kind, value = error.validator, error.validator_value
    if kind == "type":
        kinds = value if isinstance(value, list) else [value]
        return "make it " + " or ".join(_KINDS.get(k, k) for k in kinds)
    if kind == "enum":
        return "use one of: " + ", ".join(map(str, value))
    words = {"minimum": "at least {}", "maximum": "at most {}", "exclusiveMinimum": "more than {}",
             "exclusiveMaximum": "less than {}", "minItems": "at least {} item(s)",
             "maxItems": "at most {} item(s)", "minLength": "at least {} character(s)",
             "maxLength": "at most {} character(s)"}
    if kind in words:
        return "use " + words[kind].format(value)
    if kind == "required":
        return "add it"
    return None


class ParallelAgentsError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, file=None, line=None, field=None, fix=None,
                 problems: list[Problem] | None = None):
        self.problems = problems or [Problem(message, str(file) if file else None, line, field, fix)]
        super().__init__(str(self.problems[0]) if len(self.problems) == 1
                         else f"{message}\n" + "\n".join(map(str, self.problems)))

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "exit_code": self.exit_code,
                "problems": [p.to_dict() for p in self.problems]}


class DefinitionError(ParallelAgentsError):
    """An agent definition file is invalid."""

    exit_code = 1


class ConfigError(ParallelAgentsError):
    """config.yaml (shipped or the user's) is invalid."""

    exit_code = 1


class InputError(ParallelAgentsError):
    """A task, task file or argument given by the user is invalid."""

    exit_code = 2


class UnknownAgentError(InputError):
    """An agent type that is not in the registry; carries close names."""

    def __init__(self, name: str, suggestions: list[str], *, field: str = "agent_type", file=None):
        hint = f"did you mean {', '.join(suggestions)}?" if suggestions else \
            "run `python3 ai_orchestrator.py list` to see the agent types"
        super().__init__(f"unknown agent type {name!r}", field=field, fix=hint, file=file)
        self.name = name
        self.suggestions = suggestions


class CostLimitExceeded(InputError):
    """A run's expected cost (estimate.py) is over the limit it was given: nothing was started.
    Carries the estimate; --json shows it beside the problem."""

    def __init__(self, message: str, *, estimate, max_usd: float, field: str = "max_cost_usd",
                 fix: str | None = None):
        super().__init__(message, field=field, fix=fix)
        self.estimate = estimate
        self.max_usd = max_usd

    def to_dict(self) -> dict:
        return {**super().to_dict(), "max_cost_usd": self.max_usd,
                "estimate": self.estimate.to_dict()}


class EnvironmentProblem(ParallelAgentsError):
    """Something the machine lacks: a Python package, a runtime, a readable folder."""

    exit_code = 3


class MissingDependency(EnvironmentProblem, ImportError):
    """A Python package the skill needs (jsonschema, pyyaml, or one they need) cannot be imported
    by this interpreter. Also an ImportError, so that `import helpers` or an API name that fails
    for this reason can be caught the way Python callers expect; the fix is always the `setup`
    command for the interpreter that failed (parallel_agents.core.deps builds it)."""

    def __init__(self, message: str, *, module: str | None = None, fix: str | None = None):
        super().__init__(message, field="dependencies", fix=fix)
        self.name = module  # ImportError's attribute: the module that could not be imported


class ToolError(EnvironmentProblem):
    """A tool call that produced no result: a thrown input error, a missing tool, transport.

    `retryable`: the same call may succeed later. `fatal`: no call will succeed until a person
    fixes something (token, gateway policy, an unreachable gateway): the run stops at once.
    """

    def __init__(self, message: str, *, tool: str, retryable: bool = False, fix: str = "",
                 fatal: bool = False):
        super().__init__(message, field=tool, fix=fix or None)
        self.message = message
        self.tool = tool
        self.retryable = retryable
        self.fix = fix
        self.fatal = fatal


class RunAborted(EnvironmentProblem):
    """The run stopped before every task was final; its journal lets `resume` finish it."""


class PackageError(ParallelAgentsError):
    """A release zip or skill folder is not a valid parallel-agents package."""

    exit_code = 1
