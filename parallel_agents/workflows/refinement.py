"""Iterative refinement: creator (when there is no design yet) -> reviewer -> refiner -> reviewer
... until a design scores the target, the rounds run out, or the score stops improving.

    results = orch.run_iterative_refinement([{"name": "my_agent", "target": 8.5}])
    results[0].reason      # "target reached" | "max rounds" | "no improvement" | "failed: ..."
    results[0].definition  # the best valid version seen, results[0].score its score

A round is one review. Round 1 reviews the given definition, or creates it and reviews it in the
same run (the reviewer gets the creator's design as `definition`). Each later round refines the
best version with its review and reviews the result (the reviewer gets the refiner's reply as
`revision`). The tasks of one round, for every agent still refining, go in one `run_parallel`
call. A refined design that is not a valid definition is recorded as invalid and never becomes
the best version; refining continues from the best one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.definitions.model import AgentDefinition, check_definition, read_definition_file
from parallel_agents.core.errors import DefinitionError, InputError
from parallel_agents.engine.events import Emitter, Event
from parallel_agents.workflows.meta import agent_request, normalise_design, request_name
from parallel_agents.core.paths import display

TARGET_REACHED, MAX_ROUNDS, NO_IMPROVEMENT = "target reached", "max rounds", "no improvement"
SEED_ONLY_KEYS = ("current_score", "target")  # the seed's bookkeeping, not part of a request


@dataclass
class RefinementResult:
    """What refining one agent produced: the best valid version, its score and review, the
    history of every round, and why it stopped."""

    name: str
    target: float
    reason: str | None = None
    definition: dict | None = None
    score: float | None = None
    review: dict | None = None
    history: list[dict] = field(default_factory=list)
    created: bool = False
    requirements: dict | None = None

    @property
    def rounds(self) -> int:
        return len(self.history)

    @property
    def scores(self) -> list:
        return [h.get("score") for h in self.history]

    @property
    def reached(self) -> bool:
        return self.reason == TARGET_REACHED

    def to_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason, "reached": self.reached,
                "target": self.target, "score": self.score, "rounds": self.rounds,
                "scores": self.scores, "created": self.created, "history": self.history,
                "definition": self.definition, "review": self.review,
                "requirements": self.requirements}


@dataclass
class _Agent:
    """Loop state of one agent."""

    result: RefinementResult
    request: dict | None = None        # creation request, while there is no design yet
    current: dict | None = None        # the definition round 1 reviews (given ones)

    @property
    def name(self) -> str:
        return self.result.name

    @property
    def done(self) -> bool:
        return self.result.reason is not None

    def ids(self, round_no: int) -> dict:
        return {k: f"{self.name}-{k}-{round_no}" for k in ("create", "review", "refine")}


# -- what to refine ---------------------------------------------------------------------------------

def _checked(data: dict, shown: str) -> dict:
    problems = check_definition(data, file=shown)
    if problems:
        raise DefinitionError(f"{shown} is not a valid agent definition, so it cannot be refined "
                              "(fix it first; `validate` shows how)", problems=problems)
    return dict(data)


def _target(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        raise InputError(f"{field} must be a number from 0 to 10, not {value!r}", field=field,
                         fix="pass e.g. 8.5")
    return float(value)


def _file(path: Path) -> dict:
    yamlio.read_text(path, shown=str(path))  # missing or unreadable: an InputError naming it
    data, _text, problems = read_definition_file(path)
    if problems:
        raise DefinitionError(f"{display(path)} cannot be read", problems=problems)
    return _checked(data if isinstance(data, dict) else {}, display(path))


def _agent(spec, index: int, registry, target: float) -> _Agent:
    """Accepts: the seed's dict ({'name', 'purpose'?, 'current_score'?, 'target'?}), a
    definition dict, {'definition': ..., 'requirements': ...}, an AgentDefinition, a YAML file
    path, or the name of an agent in the registry."""
    where = f"agents_to_refine[{index}]"
    if isinstance(spec, AgentDefinition):
        return _known(_checked(spec.to_dict(), spec.source or spec.name), target)
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml", ".json"))):
        return _known(_file(Path(spec)), target)
    if isinstance(spec, str):
        return _known(_checked(registry.get(spec).to_dict(), spec), target)
    if not isinstance(spec, dict):
        raise InputError(f"{where} must be a name, a file, a definition or a request",
                         field=where, fix="pass e.g. {'name': 'my_agent', 'purpose': '...'}")
    if "target" in spec:
        target = _target(spec["target"], f"{where}.target")
    if "definition" in spec:
        definition = spec["definition"]
        if isinstance(definition, AgentDefinition):
            definition = definition.to_dict()
        if not isinstance(definition, dict):
            raise InputError(f"{where}.definition must be a definition mapping",
                             field=f"{where}.definition", fix="pass the definition as a dict")
        return _known(_checked(definition, f"{where}.definition"), target, spec.get("requirements"))
    if "system_prompt" in spec:
        return _known(_checked({k: v for k, v in spec.items() if k not in SEED_ONLY_KEYS}, where),
                      target)
    request = agent_request({k: v for k, v in spec.items() if k not in SEED_ONLY_KEYS}, index)
    name = request_name(request, index)
    requirements = request if set(request) - {"name"} else None
    if request.get("name") and request["name"] in registry:
        return _known(_checked(registry.get(request["name"]).to_dict(), request["name"]), target,
                      requirements)
    result = RefinementResult(name, target, created=True, requirements=request)
    return _Agent(result, request={**request, "name": name})


def _known(definition: dict, target: float, requirements=None) -> _Agent:
    return _Agent(RefinementResult(definition["name"], target, requirements=requirements),
                  current=definition)


# -- one round --------------------------------------------------------------------------------------

def _round_tasks(agent: _Agent, round_no: int, registry) -> list:
    from parallel_agents.workflows.teams import agent_task
    ids, name = agent.ids(round_no), agent.name
    extra = {"requirements": agent.result.requirements} if agent.result.requirements else {}
    if agent.request is not None:  # no design yet: create it and review it in the same run
        creator = agent_task("agent_creator", f"Design a new agent type named {name}.",
                             agent.request, registry=registry, task_id=ids["create"])
        return [creator, agent_task(
            "agent_design_reviewer", f"Review the design of the agent {name} against its request.",
            extra, registry=registry, task_id=ids["review"], input_from={"definition": ids["create"]})]
    if agent.result.definition is None:  # round 1 of a given definition
        return [agent_task("agent_design_reviewer", f"Review the agent definition {name}.",
                           {"definition": agent.current, **extra}, registry=registry,
                           task_id=ids["review"])]
    refiner = agent_task("agent_refiner",
                         f"Revise the agent definition {name} by applying the sound fixes of the review.",
                         {"definition": agent.result.definition, "review": agent.result.review},
                         registry=registry, task_id=ids["refine"])
    return [refiner, agent_task(
        "agent_design_reviewer",
        f"Review the revised agent definition {name}: it is `revision.definition`; "
        "`revision.changes` and `revision.declined` say what was changed since the last review.",
        extra, registry=registry, task_id=ids["review"], input_from={"revision": ids["refine"]})]


def _failed(result) -> str:
    return f"failed: {result.agent_type} {result.status}: {result.error}"


def _absorb(agent: _Agent, round_no: int, by_id: dict, max_rounds: int) -> dict:
    """Record one round's outcome; set the reason when the agent is done. Returns the history
    entry."""
    ids, res = agent.ids(round_no), agent.result
    entry: dict = {"round": round_no}
    res.history.append(entry)
    if agent.request is not None:
        made = by_id[ids["create"]]
        if not made.ok:
            res.reason = _failed(made)
            entry["error"] = res.reason
            return entry
        version, agent.request = normalise_design(made.output, name=res.name), None
    elif res.definition is None:
        version = agent.current
    else:
        refined = by_id[ids["refine"]]
        if not refined.ok:
            res.reason = _failed(refined)
            entry["error"] = res.reason
            return entry
        output = refined.output if isinstance(refined.output, dict) else {}
        entry["changes"] = len(output.get("changes") or [])
        entry["declined"] = len(output.get("declined") or [])
        version = normalise_design(output.get("definition"), name=res.name)
    review = by_id[ids["review"]]
    if not review.ok:
        res.reason = _failed(review)
        entry["error"] = res.reason
        return entry
    score = float(review.output["score"])
    problems = check_definition(version, file=f"version {round_no} of {res.name}")
    entry.update(score=score, verdict=review.output.get("verdict"),
                 dimension_scores=review.output.get("dimension_scores"),
                 issues=len(review.output.get("issues") or []), valid=not problems)
    if problems:  # never a version: keep the best, refine it again next round
        entry.update(accepted=False, problems=[str(p) for p in problems[:5]])
        if round_no >= max_rounds:
            res.reason = MAX_ROUNDS if res.definition else \
                f"failed: no valid design ({problems[0]})"
        return entry
    improved = res.score is None or score > res.score
    entry["accepted"] = improved
    if improved:
        res.definition, res.score, res.review = version, score, review.output
    if score >= res.target:
        res.reason = TARGET_REACHED
    elif not improved:
        res.reason = NO_IMPROVEMENT
    elif round_no >= max_rounds:
        res.reason = MAX_ROUNDS
    return entry


def _message(entry: dict, result: RefinementResult) -> str:
    if entry.get("error"):
        return entry["error"]
    state = "invalid" if not entry.get("valid") else ("new best" if entry.get("accepted") else "kept best")
    text = f"round {entry['round']}: score {entry['score']} ({state}, best {result.score})"
    return text + (f" -> {result.reason}" if result.reason else "")


# -- the loop ---------------------------------------------------------------------------------------

#: For estimates: the share of agents still refining after each round (a round ends an agent
#: when it reaches the target, stops improving or fails); round r runs with ROUND_CONTINUES^(r-1).
ROUND_CONTINUES = 0.5


def _agents(agents_to_refine, registry, target: float) -> list:
    """The agents to refine, one or a list of names, requests or definitions, each resolved."""
    if isinstance(agents_to_refine, (str, dict, Path, AgentDefinition)):
        agents_to_refine = [agents_to_refine]
    agents = [_agent(spec, i, registry, target) for i, spec in enumerate(agents_to_refine or [])]
    if not agents:
        raise InputError("nothing to refine", field="agents_to_refine",
                         fix="pass e.g. [{'name': 'my_agent', 'purpose': '...'}]")
    return agents


def estimate_refinement(orch, agents_to_refine, target_score: float = 8.5, max_rounds: int = 3):
    """What run_iterative_refinement would cost (estimate.Estimate), spawning nothing: round 1
    as it would run, later rounds (refiner + reviewer) with ROUND_CONTINUES as their chance, on
    the definition known now (a created agent: a sample design) and a sample review."""
    from parallel_agents.definitions.model import schema_registry
    from parallel_agents.definitions.samples import agent_definition_sample, sample
    target = _target(target_score, "target_score")
    registry = orch.registry
    agents = _agents(agents_to_refine, registry, target)
    review = sample(registry.get("agent_design_reviewer").output_schema, schema_registry())
    tasks, chance = [], {}
    for a in agents:
        tasks += _round_tasks(a, 1, registry)
        purpose = (a.request or {}).get("purpose", "")
        a.result.definition = a.current or agent_definition_sample(a.name, purpose)
        a.result.review, a.request = review, None
        for round_no in range(2, max_rounds + 1):
            later = _round_tasks(a, round_no, registry)
            chance.update({t.task_id: ROUND_CONTINUES ** (round_no - 1) for t in later})
            tasks += later
    estimate = orch.estimate(tasks, probabilities=chance)
    if max_rounds > 1:
        estimate.notes.append(f"rounds 2-{max_rounds} are counted at {ROUND_CONTINUES:.0%} of "
                              "the agents per round (they stop at the target); `high` has every round")
    return estimate


def run_iterative_refinement(orch, agents_to_refine, target_score: float = 8.5,
                             max_rounds: int = 3) -> list[RefinementResult]:
    """Refine every agent in parallel; one RefinementResult per agent, in the order given.
    Emits an Event("refined", task_id=NAME, attempt=ROUND) per agent and round."""
    target = _target(target_score, "target_score")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise InputError(f"max_rounds must be a whole number of at least 1, not {max_rounds!r}",
                         field="max_rounds", fix="pass e.g. 3")
    registry = orch.registry
    agents = _agents(agents_to_refine, registry, target)
    names = [a.name for a in agents]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"agent {twice[0]!r} is given twice", field="agents_to_refine",
                         fix="refine each agent once per call")
    emit = Emitter(orch.on_event)
    for round_no in range(1, max_rounds + 1):
        active = [a for a in agents if not a.done]
        if not active:
            break
        tasks = [t for a in active for t in _round_tasks(a, round_no, registry)]
        by_id = {r.task_id: r for r in orch.run_parallel(tasks)}
        for a in active:
            entry = _absorb(a, round_no, by_id, max_rounds)
            emit(Event("refined", a.name, "agent_design_reviewer", round_no,
                       message=_message(entry, a.result)))
    return [a.result for a in agents]
