"""Autonomous orchestration: agent_orchestrator plans, the plan runs as a dependency graph, a
documentation_writer merges every result.

    done = orch.orchestrate("Write a launch post and review the landing page code")
    done.plan          # {summary, tasks: [{id, agent_type, description, input, depends_on}], synthesis}
    done.results       # one AgentResult per plan task (task_id = the plan's id)
    done.synthesis     # the merged deliverable (markdown)

With `refine_created=True`, designs from agent_creator tasks in the plan are refined to
`target_score`; with `install=True` as well, those that reach it are installed. So the seed's
"Create 5 new agents and ensure all score 8.5+" is one call.

A plan is checked before anything of it runs (known agent types, unique ids, known and acyclic
depends_on, at most `max_tasks` tasks). An invalid plan counts as an invalid reply of the
planner: the planner moves up the model ladder, as for any reply the quality gate rejects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from parallel_agents.core.errors import InputError, UnknownAgentError
from parallel_agents.engine.events import Emitter, Event
from parallel_agents.engine.tasks import AgentResult

PLANNER, SYNTHESISER = "agent_orchestrator", "documentation_writer"
REFINING_AGENTS = ("agent_design_reviewer", "agent_refiner")  # the loop does their work
DEFAULT_SYNTHESIS = "Merge the results of the tasks into one document that reaches the goal."


@dataclass
class OrchestrationResult:
    goal: str
    plan: dict | None = None
    planner: AgentResult | None = None
    results: list[AgentResult] = field(default_factory=list)
    synthesis: str | None = None
    synthesis_result: AgentResult | None = None
    refinements: list = field(default_factory=list)     # RefinementResult per created design
    rejected_designs: list[dict] = field(default_factory=list)
    installed: list[dict] = field(default_factory=list)  # {name, path} or {name, error}
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.results) and \
            (self.synthesis_result is None or self.synthesis_result.ok)

    def to_dict(self) -> dict:
        return {"goal": self.goal, "ok": self.ok, "error": self.error, "plan": self.plan,
                "results": [r.to_dict() for r in self.results], "synthesis": self.synthesis,
                "refinements": [r.to_dict() for r in self.refinements],
                "rejected_designs": self.rejected_designs, "installed": self.installed}


# -- the plan ---------------------------------------------------------------------------------------

def plan_problems(plan, registry, *, max_tasks: int, allowed: set[str] | None = None) -> list[str]:
    """Every reason a plan cannot run (empty = runnable)."""
    if not isinstance(plan, dict) or not isinstance(plan.get("tasks"), list):
        return ["the plan has no task list"]
    tasks = plan["tasks"]
    problems = []
    if not tasks:
        problems.append("the plan has no tasks")
    if len(tasks) > max_tasks:
        problems.append(f"the plan has {len(tasks)} tasks, more than max_tasks {max_tasks}")
    ids = [t.get("id") for t in tasks if isinstance(t, dict)]
    if len(ids) != len(tasks):
        return problems + ["every task must be an object"]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        problems.append(f"task ids are repeated: {', '.join(map(str, twice))}")
    for t in tasks:
        try:
            name = registry.resolve(t.get("agent_type"))
            if allowed is not None and name not in allowed:
                raise UnknownAgentError(name, [])
        except UnknownAgentError:
            problems.append(f"task {t.get('id')}: agent type {t.get('agent_type')!r} is not available")
        for dep in t.get("depends_on") or []:
            if dep == t.get("id") or dep not in ids:
                problems.append(f"task {t.get('id')}: depends_on {dep!r} is not another task of the plan")
    if not problems:
        problems += _cycles({t["id"]: list(t.get("depends_on") or []) for t in tasks})
    return problems


def _cycles(graph: dict) -> list[str]:
    from parallel_agents.engine.graph import find_cycle   # iterative: a plan's ring of any length is one line
    cycle = find_cycle(graph)
    return ["depends_on has a cycle: " + " -> ".join(cycle)] if cycle else []


def plan_tasks(plan: dict, registry) -> list:
    """The plan as AgentTasks: plan ids become task ids, depends_on is kept."""
    from parallel_agents.workflows.teams import agent_task
    return [agent_task(registry.resolve(t["agent_type"]), t["description"],
                       t.get("input") or {}, registry=registry, task_id=t["id"],
                       depends_on=list(t.get("depends_on") or []))
            for t in plan["tasks"]]


def _available(registry, refine_created: bool) -> list[dict]:
    skip = {PLANNER, *(REFINING_AGENTS if refine_created else ())}
    return [{"name": d.name, "description": d.description} for d in registry if d.name not in skip]


def _planner_task(registry, goal: str, *, max_tasks: int, refine_created: bool, target: float,
                  input_data: dict):
    """(the planner's task, the agents it may plan with)."""
    from parallel_agents.workflows.teams import agent_task
    available = _available(registry, refine_created)
    data = {"goal": goal, "available_agents": available, "max_tasks": max_tasks, **input_data}
    if refine_created:
        data["constraints"] = (
            "Plan only the creation of new agents with agent_creator, one task per agent, with "
            "its name and purpose in the input. Every design is then reviewed and refined "
            f"automatically until it scores {target} or more; do not plan that part.")
    return agent_task(PLANNER, goal, data, registry=registry, task_id="plan"), available


def _plan(orch, goal: str, *, max_tasks: int, refine_created: bool, target: float,
          input_data: dict) -> tuple[AgentResult, list[dict]]:
    registry = orch.registry
    task, available = _planner_task(registry, goal, max_tasks=max_tasks,
                                    refine_created=refine_created, target=target,
                                    input_data=input_data)
    allowed = {a["name"] for a in available}
    gate = orch.quality_gate

    def plan_gate(t, output):
        if t.task_id == task.task_id:
            problems = plan_problems(output, registry, max_tasks=max_tasks, allowed=allowed)
            return "invalid plan: " + "; ".join(problems[:5]) if problems else None
        return gate(t, output) if gate else None

    orch.quality_gate = plan_gate
    try:
        result = orch.run_task(task)
    finally:
        orch.quality_gate = gate
    return result, available


# -- synthesis ---------------------------------------------------------------------------------------

def _digest(results: list[AgentResult], limit: int) -> dict:
    """Every result for the synthesiser: output when completed, else status and error; outputs
    are shortened when the whole would exceed the input limit."""
    def entry(r, cap=None):
        out = {"agent_type": r.agent_type, "status": r.status}
        if r.ok:
            value = r.output
            if cap is not None:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                value = text if len(text) <= cap else text[:cap] + " ...(shortened)"
            out["output"] = value
        else:
            out["error"] = r.error
        return out
    digest = {r.task_id: entry(r) for r in results}
    if len(json.dumps(digest, default=str).encode()) > limit * 0.8:
        cap = max(200, int(limit * 0.6) // max(1, len(results)) // 2)
        digest = {r.task_id: entry(r, cap) for r in results}
    return digest


def _synthesise(orch, goal: str, plan: dict, results, extra: dict) -> AgentResult:
    from parallel_agents.workflows.teams import agent_task
    data = {"goal": goal, "plan_summary": plan.get("summary", ""),
            "results": _digest(results, orch.config.data.get("max_input_bytes", 200_000)), **extra}
    instructions = (plan.get("synthesis") or "").strip() or DEFAULT_SYNTHESIS
    task = agent_task(SYNTHESISER, instructions, data, registry=orch.registry,
                      task_id="synthesis", output_format="markdown")
    return orch.run_task(task)


# -- created agents: refine and install ---------------------------------------------------------------

def _designs(plan: dict, results: list[AgentResult]):
    from parallel_agents.definitions.model import check_definition
    from parallel_agents.workflows.meta import normalise_design, request_name
    by_id = {r.task_id: r for r in results}
    items, rejected = [], []
    for i, t in enumerate(plan["tasks"]):
        result = by_id.get(t["id"])
        if t["agent_type"] != "agent_creator" or result is None or not result.ok:
            continue
        request = t.get("input") or {}
        name = request_name(request, i) if request.get("name") else None
        design = normalise_design(result.output, name=name)
        problems = [str(p) for p in check_definition(design, file=f"design of task {t['id']}")]
        taken = next((i["task_id"] for i in items if i["definition"]["name"] == design.get("name")), None)
        if taken:
            problems.append(f"the name {design['name']!r} is already used by the design of task {taken}")
        if problems:
            rejected.append({"task_id": t["id"], "name": design.get("name"), "problems": problems[:5]})
        else:
            items.append({"task_id": t["id"], "definition": design, "requirements": request or None})
    return [{k: v for k, v in i.items() if k != "task_id"} for i in items], rejected


def _install(orch, refinements, emit) -> list[dict]:
    from parallel_agents.core.errors import ParallelAgentsError
    from parallel_agents.workflows.meta import install_agent
    installed = []
    for r in refinements:
        if not r.reached:
            continue
        try:
            path = install_agent(r.definition)
            installed.append({"name": r.name, "path": str(path)})
            emit(Event("installed", r.name, message=str(path)))
        except ParallelAgentsError as exc:
            installed.append({"name": r.name, "error": str(exc.problems[0])})
    return installed  # the orchestrator's shared registry was reloaded by install_agent


# -- the whole thing ----------------------------------------------------------------------------------

def estimate_orchestrate(orch, goal: str, *, max_tasks: int = 10, input_data: dict | None = None,
                         synthesize: bool = True, refine_created: bool = False,
                         target_score: float = 8.5, **_options):
    """What orchestrate() is known to cost before it runs (estimate.Estimate): the planner and
    the synthesis. The plan's own tasks are not in it - they exist only once the planner has
    run - and the notes say so."""
    if not isinstance(goal, str) or not goal.strip():
        raise InputError("goal is empty", field="goal", fix='say what you want, e.g. "Create 5 new agents"')
    from parallel_agents.workflows.teams import agent_task
    planner, _ = _planner_task(orch.registry, goal.strip(), max_tasks=max_tasks,
                               refine_created=refine_created, target=target_score,
                               input_data=dict(input_data or {}))
    tasks = [planner]
    if synthesize:
        tasks.append(agent_task(SYNTHESISER, DEFAULT_SYNTHESIS,
                                {"goal": goal.strip(), "plan_summary": "", "results": {}},
                                registry=orch.registry, task_id="synthesis",
                                output_format="markdown"))
    estimate = orch.estimate(tasks)
    estimate.notes.append(f"the plan's own tasks (up to {max_tasks}) are not included: they are "
                          "known only once agent_orchestrator has planned the goal (cap them "
                          "with --max-tasks, or the spend with --budget)")
    if synthesize:
        estimate.notes.append("the synthesis is estimated without the plan's results in its input")
    return estimate


def orchestrate(orch, goal: str, *, max_tasks: int = 10, input_data: dict | None = None,
                synthesize: bool = True, refine_created: bool = False, target_score: float = 8.5,
                max_rounds: int = 3, install: bool = False) -> OrchestrationResult:
    """Plan the goal with agent_orchestrator, run the plan, (refine and install created agents,)
    and merge every result with a documentation_writer. Never raises for what the agents do:
    a failed planner or an unusable plan is `error`; failed tasks are in `results`."""
    if not isinstance(goal, str) or not goal.strip():
        raise InputError("goal is empty", field="goal", fix='say what you want, e.g. "Create 5 new agents"')
    if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or not 1 <= max_tasks <= 50:
        raise InputError(f"max_tasks must be a whole number from 1 to 50, not {max_tasks!r}",
                         field="max_tasks", fix="pass e.g. 10")
    if install and not refine_created:
        raise InputError("install=True installs refined designs", field="install",
                         fix="pass refine_created=True as well (designs are installed only once "
                             "they reach target_score)")
    goal = goal.strip()
    emit = Emitter(orch.on_event)
    done = OrchestrationResult(goal)
    done.planner, _ = _plan(orch, goal, max_tasks=max_tasks, refine_created=refine_created,
                            target=target_score, input_data=dict(input_data or {}))
    if not done.planner.ok:
        done.error = f"planning {done.planner.status}: {done.planner.error}"
        return done
    done.plan = done.planner.output
    emit(Event("planned", "plan", PLANNER, message=f"{len(done.plan['tasks'])} tasks: "
               + done.plan.get("summary", "")[:200]))
    done.results = orch.run_parallel(plan_tasks(done.plan, orch.registry))
    extra = {}
    if refine_created:
        items, done.rejected_designs = _designs(done.plan, done.results)
        if items:
            from parallel_agents.workflows.refinement import run_iterative_refinement
            done.refinements = run_iterative_refinement(orch, items, target_score, max_rounds)
            extra["refined_agents"] = [
                {"name": r.name, "score": r.score, "reason": r.reason} for r in done.refinements]
        if install:
            done.installed = _install(orch, done.refinements, emit)
            extra["installed_agents"] = done.installed
    if synthesize:
        done.synthesis_result = _synthesise(orch, goal, done.plan, done.results, extra)
        done.synthesis = done.synthesis_result.output if done.synthesis_result.ok else None
    return done
