"""RealAIParallelOrchestrator: the seed's script-mode API over the scheduler.

    orch = RealAIParallelOrchestrator(max_concurrent=5)
    results = orch.run_parallel(tasks)        # list[AgentResult], in the order of `tasks`

The runtime is chosen on first use (see runtimes.select_runtime), so constructing the
orchestrator never fails for lack of one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from parallel_agents.core.config import Config, load_config
from parallel_agents.core.errors import InputError
from parallel_agents.engine.costs import PriceTable
from parallel_agents.engine.events import Emitter
from parallel_agents.engine.journal import Journal, new_run_id, read_records
from parallel_agents.engine.ladder import Ladder
from parallel_agents.engine.locks import JournalLock, holding_run_lock
from parallel_agents.engine.scheduler import RetryPolicy, Scheduler
from parallel_agents.engine.tasks import AgentResult, AgentTask


@dataclass
class RunReport:
    run_id: str
    results: list[AgentResult]
    wall_seconds: float
    runtime_calls: dict
    peak_in_flight: int
    cost_usd: float
    unpriced_models: list[str] = field(default_factory=list)
    runtime_notes: list[str] = field(default_factory=list)   # what the runtime lacks, and its cost

    @property
    def counts(self) -> dict:
        return _counts(self.results)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "counts": self.counts, "cost_usd": round(self.cost_usd, 6),
                "wall_seconds": round(self.wall_seconds, 3), "runtime_calls": self.runtime_calls,
                "peak_in_flight": self.peak_in_flight, "unpriced_models": self.unpriced_models,
                "reused": sum(1 for r in self.results if r.reused),
                "runtime_notes": self.runtime_notes,
                "results": [r.to_dict() for r in self.results]}


class RealAIParallelOrchestrator:
    def __init__(self, max_concurrent: int | None = None, *, runtime=None, config: Config | None = None,
                 registry=None, on_event=None, callback=None, budget_usd: float | None = None,
                 quality_gate=None, runs_folder=None, seed: int | None = None, reuse: bool = False,
                 max_cost_usd: float | None = None):
        """
        runtime: None (auto: injected `tools` module, then the gateway named by
            OPENCLAW_GATEWAY_URL or config.yaml's gateway.url), "simulated", a gateway URL
            ("http://127.0.0.1:18789"; token from OPENCLAW_GATEWAY_TOKEN), a tool caller
            (`call(tool, args) -> dict`), a `tools`-like module, or an OpenClawRuntime.
        on_event: called with every Event (queued, spawned, completed, ...).
        callback: called with each AgentResult as soon as its task is final (seed name).
        quality_gate: fn(task, output) -> True/None to accept, or a reason string to escalate.
        budget_usd: stop starting attempts once this much is spent; the rest are `skipped`.
        max_cost_usd: refuse to start a run whose expected cost (estimate()) is over this
            (errors.CostLimitExceeded, before any spawn); run_parallel may override it.
        reuse: finish a task from an earlier run's completed result when its agent definition,
            prompt, output format and starting tier are the same (no spawn, cost 0, `reused`);
            see parallel_agents/engine/reuse.py. Completed results are kept for that in every run
            (config reuse.store).
        """
        self.config = config or load_config()
        self.max_concurrent = max_concurrent or self.config.max_concurrent
        self._runtime_spec = runtime
        self._runtime = None
        self._registry = registry
        self.on_event = on_event
        self.callback = callback
        if budget_usd is not None and (isinstance(budget_usd, bool) or not isinstance(budget_usd, (int, float))
                                       or not budget_usd > 0):
            raise InputError(f"budget_usd {budget_usd!r} is not a positive amount", field="budget_usd",
                             fix="pass more than 0 USD, or None for no budget")
        self.budget_usd = budget_usd if budget_usd is not None else self.config.budget_usd
        self.max_cost_usd = _max_usd(max_cost_usd)
        self.quality_gate = quality_gate
        self.reuse = reuse
        self.runs_folder = runs_folder
        self.seed = seed
        self.results: list[AgentResult] = []
        self.last_run: RunReport | None = None

    # -- wiring ---------------------------------------------------------------------------------
    @property
    def registry(self):
        if self._registry is not None:  # one the caller passed in
            return self._registry
        from parallel_agents.definitions.registry import load_registry  # the shared one, which install_agent reloads
        return load_registry()

    @property
    def runtime(self):
        if self._runtime is None:
            from parallel_agents.runtimes import select_runtime
            self._runtime = select_runtime(self._runtime_spec, registry=self.registry,
                                           gateway=self.config.gateway)
        return self._runtime

    def _scheduler(self, journal: Journal, callback, *, reuse: bool | None = None) -> Scheduler:
        retry = self.config.retry
        return Scheduler(
            self.runtime, ladder=Ladder(self.config.tiers), prices=PriceTable(self.config.prices),
            max_concurrent=self.max_concurrent, journal=journal,
            emit=Emitter(self.on_event), retry=RetryPolicy(**retry),
            default_timeout=self.config.default_timeout_seconds, budget_usd=self.budget_usd,
            quality_gate=self.quality_gate, max_input_bytes=self.config.max_input_bytes,
            on_result=_both(self.callback, callback), seed=self.seed,
            reuse=self._reuse_store(self.reuse if reuse is None else reuse))

    def _reuse_store(self, lookup: bool):
        """The store completed results are kept in and, with `lookup`, taken from (None: neither)."""
        settings = self.config.reuse
        if not (lookup or settings["store"]):
            return None
        from parallel_agents.engine.reuse import ReuseStore
        return ReuseStore.from_config(settings, lookup=lookup)

    def _definitions(self, tasks: list[AgentTask]) -> dict:
        """Resolve every agent type first: an unknown one fails the call before any spawn."""
        return {t.task_id: self.registry.get(t.agent_type) for t in tasks}

    # -- estimating -----------------------------------------------------------------------------
    def estimate(self, tasks: list[AgentTask], *, probabilities: dict | None = None):
        """What running `tasks` would cost (estimate.Estimate: per task, per tier and in total,
        low/expected/high), learnt from the journals in the runs folder. Spawns nothing and
        needs no runtime; invalid tasks raise the errors run_parallel would. With reuse on,
        tasks a kept result would finish cost 0 (`reused`)."""
        from parallel_agents.engine.estimator import estimate_tasks
        from parallel_agents.engine.usage_history import load_history
        return estimate_tasks(list(tasks), registry=self.registry, config=self.config,
                              history=load_history(self.runs_folder, registry=self.registry),
                              probabilities=probabilities, quality_gate=self.quality_gate,
                              reuse=self._reuse_store(True) if self.reuse else None)

    # -- running --------------------------------------------------------------------------------
    def run_parallel(self, tasks: list[AgentTask], *, callback=None, run_id: str | None = None,
                     max_cost_usd: float | None = None) -> list[AgentResult]:
        """Run every task (bounded by max_concurrent) and return one AgentResult per task, in
        the order given. Never drops a task: each ends completed, failed, timeout or skipped.
        A group (for_each) is followed by its items' results (`ID[0]`, `ID[1]`, ...); its own
        output is the list of theirs.
        max_cost_usd (default: the constructor's): CostLimitExceeded before any spawn when the
        expected cost is over it."""
        tasks = list(tasks)
        definitions = self._definitions(tasks)
        limit = _max_usd(max_cost_usd) if max_cost_usd is not None else self.max_cost_usd
        if limit is not None:
            from parallel_agents.engine.estimate import check_max_cost
            check_max_cost(self.estimate(tasks), limit)
        journal = Journal(run_id or new_run_id(), self.runs_folder)
        scheduler = self._scheduler(journal, callback)
        scheduler.prepare(tasks, definitions, max_map_items=self.config.max_map_items)
        with JournalLock(journal.path, kind="run", command="run"):   # one process per run
            journal.write("run_started", tasks=[t.to_record() for t in tasks],
                          max_concurrent=self.max_concurrent,
                          tiers=[t.__dict__ for t in self.config.tiers], budget_usd=self.budget_usd,
                          reuse=bool(self.reuse),
                          door=getattr(getattr(self.runtime, "caller", None), "door", None))
            return self._execute(scheduler, journal, tasks)

    def _execute(self, scheduler: Scheduler, journal: Journal, tasks, restored=None):
        calls_before = dict(getattr(self.runtime, "calls", {}))
        started = time.monotonic()
        try:
            results = scheduler.run(tasks, restored=restored)
            journal.write("run_finished", counts=_counts(results))
        finally:
            journal.close()
            if scheduler.reuse is not None:
                scheduler.reuse.close()   # this run's segment of kept results
        calls = {k: v - calls_before.get(k, 0) for k, v in getattr(self.runtime, "calls", {}).items()}
        self.results = results
        self.last_run = RunReport(journal.run_id, results, time.monotonic() - started,
                                  {k: v for k, v in calls.items() if v}, scheduler.peak_in_flight,
                                  sum(r.cost_usd for r in results),
                                  sorted(scheduler.prices.unpriced),
                                  list(getattr(self.runtime, "missing_capabilities", list)()))
        return results

    def run_task(self, task: AgentTask) -> AgentResult:
        return self.run_parallel([task])[0]

    # -- workflows (parallel_agents/workflows/refinement.py, planning.py) ---------------------------------
    def run_iterative_refinement(self, agents_to_refine, target_score: float = 8.5,
                                 max_rounds: int = 3):
        """Creator -> reviewer -> refiner -> reviewer ... per agent, all agents in parallel, until
        target_score, max_rounds or no improvement. list[RefinementResult], in the order given."""
        from parallel_agents.workflows.refinement import run_iterative_refinement
        return run_iterative_refinement(self, agents_to_refine, target_score, max_rounds)

    def orchestrate(self, goal: str, **options):
        """agent_orchestrator plans the goal, the plan runs, a documentation_writer merges the
        results. Options: see parallel_agents.workflows.planning.orchestrate. -> OrchestrationResult"""
        from parallel_agents.workflows.planning import orchestrate
        return orchestrate(self, goal, **options)

    @holding_run_lock   # the run's lock (locks.py) for the whole call: one resume at a time
    def resume(self, run_id: str) -> list[AgentResult]:
        """Finish a run from its journal: finished tasks keep their results, accepted attempts
        are collected (not spawned again), the rest run."""
        journal = Journal(run_id, self.runs_folder)
        records = read_records(journal.path)
        start = next((r for r in records if r["type"] == "run_started"), None)
        if start is None:
            from parallel_agents.core.errors import InputError
            raise InputError(f"journal of run {run_id} has no start record", file=str(journal.path),
                             fix="the run never started; run the tasks again")
        tasks = [AgentTask.from_dict(t) for t in start["tasks"]]
        self.max_concurrent = start.get("max_concurrent", self.max_concurrent)
        scheduler = self._scheduler(journal, None, reuse=bool(self.reuse or start.get("reuse")))
        scheduler.prepare(tasks, self._definitions(tasks), max_map_items=self.config.max_map_items)
        restored = restore_state(records, self.runtime)
        journal.write("run_resumed", finished=sum(1 for v in restored.values() if v.get("result")),
                      reattached=sum(1 for v in restored.values() if v.get("live")),
                      lost=sum(1 for v in restored.values() if v.get("lost")),
                      interrupted=_interrupted(records))
        return self._execute(scheduler, journal, tasks, restored)


#: How far the gateway's clock may lag ours for a run found by its label still to be the one a
#: journaled spawn intent started (see restore_state). The gateway is normally on loopback.
ADOPT_CLOCK_SKEW_S = 2.0


def restore_state(records: list[dict], runtime) -> dict:
    """Per task: its final result, or its finished attempts plus the attempt still live, and
    where it stood on its tier (tier_index, reasked, reask_hint, transient_failures).

    A live attempt (accepted, not finished) is checked on the gateway first (runtime.known_runs):
    one the gateway does not know - its run was lost (a gateway restarted, a run resumed through
    another door than it was spawned through) - is no longer live but `lost`: the scheduler
    records it as such and spawns the task again on the same tier, where a lost attempt counts
    as no failure and no re-ask. This holds after Ctrl-C (an `interrupted` record) and kill -9
    alike; waiting for such a run would only end at its deadline, and then climb the ladder."""
    state: dict[str, dict] = {}
    for r in records:
        if r["type"] == "interrupted":  # attempts in flight at Ctrl-C (a receipt may be unwritten)
            for live in r.get("live") if isinstance(r.get("live"), list) else []:
                _live_from_interrupt(state, live)
            continue
        tid = r.get("task_id")
        if tid is None:
            continue
        s = state.setdefault(tid, {"attempts": [], "live": None, "intent": None, "result": None})
        if r["type"] == "spawn_intent":
            s["intent"] = r
        elif r["type"] == "spawn_accepted":
            s["intent"] = None
            s["live"] = {"attempt": r["attempt"], "timeout": r["timeout"], "accepted_at": r["t"],
                         "collect": r.get("collect", False)}
            s["tier_index"] = r["tier_index"]
        elif r["type"] == "attempt_finished":
            s["attempts"].append(r["attempt"])
            s["tier_index"] = r["tier_index"]
            if s["live"] and s["live"]["attempt"]["number"] == r["attempt"]["number"]:
                s["live"] = None
            s["intent"] = None
        elif r["type"] == "escalated":  # a new tier: no re-ask made, no failures yet
            s.update(tier_index=r["tier_index"], reasked=False, reask_hint=None, transient_failures=0)
        elif r["type"] == "reask_planned":
            s.update(reasked=True, reask_hint=r["hint"])
        elif r["type"] == "retry_planned":
            s["transient_failures"] = r["transient_failures"]
        elif r["type"] == "task_finished":
            s["result"] = r["result"]
        elif r["type"] == "group_expanded":   # a for_each group's items, as first made
            s["expanded"] = r["items"]
    journaled = [s for s in state.values() if s["live"] and not s["result"]]
    for s in state.values():
        intent = s.pop("intent")
        if intent and not s["result"] and hasattr(runtime, "find_by_label"):
            # died between asking and hearing back: the spawn may have been accepted. Labels
            # carry the run, and a run that started before this intent was written cannot be
            # this spawn's child either (a second guard, e.g. for journals of older versions)
            found = runtime.find_by_label(intent["label"], since=intent["t"])
            if found is not None and found.accepted_at >= intent["t"] - ADOPT_CLOCK_SKEW_S:
                s["live"] = {"attempt": {"number": intent["attempt"], "tier": intent["tier"],
                                         "model": intent["model"], "status": "accepted",
                                         "run_id": found.run_id, "session_key": found.session_key},
                             "timeout": found.timeout or 120, "accepted_at": found.accepted_at,
                             "collect": getattr(runtime, "collection_mode", "") == "collector"}
    if journaled and hasattr(runtime, "known_runs"):
        known = runtime.known_runs([
            {"run_id": s["live"]["attempt"]["run_id"], "collect": bool(s["live"].get("collect")),
             "session_key": s["live"]["attempt"].get("session_key"), "accepted_at": s["live"]["accepted_at"]}
            for s in journaled])
        for s in journaled:
            if known.get(s["live"]["attempt"]["run_id"]) is False:
                s["lost"], s["live"] = s["live"], None
    return state


def _live_from_interrupt(state: dict, live) -> None:
    """An attempt the `interrupted` record lists as in flight whose spawn_accepted line is
    missing (Ctrl-C between the receipt and its line): live, as that line would have said."""
    try:
        s = state.get(live["task_id"])
        if not (s and s["intent"] and s["intent"]["attempt"] == live["attempt"]["number"]
                and live["attempt"]["run_id"]):
            return
        s["live"] = {"attempt": dict(live["attempt"]), "timeout": int(live["timeout"]),
                     "accepted_at": float(live["accepted_at"]), "collect": bool(live.get("collect"))}
        s["tier_index"] = int(live["tier_index"])
        s["intent"] = None
    except (KeyError, TypeError, ValueError):  # a damaged entry: the intent's own path applies
        return


def _interrupted(records: list[dict]) -> bool:
    """Whether the journal's last session (run or resume) ended with Ctrl-C."""
    last = max((i for i, r in enumerate(records) if r["type"] in ("run_started", "run_resumed")), default=0)
    return any(r["type"] == "interrupted" for r in records[last:])


def _counts(results) -> dict:
    out: dict[str, int] = {}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def _both(a, b):
    if a is None or b is None:
        return a or b
    return lambda result: (a(result), b(result))


def _max_usd(value) -> float | None:
    """estimate.check_max_usd, imported only when there is a limit to check (the estimate's
    module is not needed by a run without one)."""
    if value is None:
        return None
    from parallel_agents.engine.estimate import check_max_usd
    return check_max_usd(value)
