"""How the tasks of a run are priced before it starts (estimate.py holds the result): each
task's path up the ladder, map groups, reuse. Nothing is spawned.

How one task is estimated. Its path up the ladder starts on its tier (the task's, else its
agent's) and may climb through every later tier. On each tier of the path:
- tokens of one attempt: input = the task's first prompt (usage_history.prompt_tokens: bytes / 4
  of the prompt the engine builds, upstream outputs included at their own expected size) times
  what the user's journals say that agent's attempts on that model really used per prompt token
  (mean, p10 for low, p90 for high; across agents on that model, then across that agent's
  models when there are fewer than MIN_SAMPLES); output = the tokens those attempts returned
  (per agent and model, then per agent), else a prior: for json, OUTPUT_SAMPLE_FACTOR x a
  schema-valid sample (samples.py) in bytes / 4 (at least MIN_OUTPUT_TOKENS); for markdown,
  code and text, TEXT_OUTPUT_TOKENS. Without history, low and high are LOW_FACTOR and
  HIGH_FACTOR times the prior (input: INPUT_LOW_FACTOR, as the prompt is known);
- outcomes: per visit of the tier, the attempts made (plain, and re-asks of invalid replies)
  and the chance to complete there, from the journals per (agent, tier), shrunk towards all
  agents on that tier and then towards the priors below by PSEUDO_VISITS pseudo-visits (so a
  handful of runs moves the estimate without owning it). With `retry.reask_invalid: false` no
  re-ask is counted.

expected = sum over the path of P(reaching the tier) x (attempts there) x (tokens x price);
low = one attempt on the starting tier at the low token quantile (the cheapest way a task ends);
high = the worst plausible path: a plain attempt and a re-ask on every tier of the path, at the
high quantile. Prices are config.yaml's (USD per million tokens); a model without a price costs 0
and is listed in `unpriced_models`. A task may carry a probability (workflow stages that may not
run): it scales `expected`, drops out of `low` and stays whole in `high`.

Map groups (mapping.py). A group is never spawned and costs 0 itself (a row with `group: true`
and its `items`). A written list (`for_each: [...]`) is estimated as the item tasks the
scheduler will build (mapping.item_tasks: copies of the group with the item under its `as`
name), one row each after the group's; a task depending on the group gets the sum of the items'
replies as input. A list taken from another task's output (`for_each: {from, path}`) has a
number of items known only during the run (`items: null`): its items are left out of low,
expected and high alike, and so are their replies from the prompt of a task depending on it
(the list may be empty or hold up to the cap, `max_items` or config `max_map_items`: no count
in between would be honest, and the cap would swamp `high`). The notes name each such group
with what one of its items costs (without the item itself), and the summary and the
`--max-cost` refusal say that its items are not included.

Reuse (reuse.py: `run --reuse --estimate`, `orch.estimate(tasks)` with reuse=True). A task
whose first prompt is known before the run - it has no dependencies, or only ones that would
be reused themselves (their outputs are then known) - and whose key (reuse.first_attempt_key,
the scheduler's) finds an entry that is still valid (reuse.still_valid and the quality gate)
costs 0 in low, expected and high: `reused: true` on its row, counted in `reused` in the
totals, its kept output (bytes / 4) what its dependents get. Every other task is priced as a
spawn, even though the run may reuse it once its upstream outputs are known (the notes say how
many).
"""
from __future__ import annotations

import json
import math

from parallel_agents.engine import mapping
from parallel_agents.core.errors import InputError
from parallel_agents.engine.estimate import ZERO, Estimate, Range, TaskEstimate, TierCost
from parallel_agents.engine.usage_history import History, Visits, first_prompt, prompt_tokens

# -- priors (used where the journals say nothing) -----------------------------------------------
PRIOR_COMPLETE = 0.85       # share of tasks reaching a tier that complete there
PRIOR_PLAIN = 1.0           # plain attempts per visit of a tier (transient retries add some)
PRIOR_REASKS = 0.10         # re-asks per visit (an invalid reply, asked once more)
PSEUDO_VISITS = 2.0         # weight of the prior against the journals, in visits
MIN_SAMPLES = 3             # token samples a level needs before it is used
OUTPUT_SAMPLE_FACTOR = 4.0  # real json replies against a minimal schema-valid sample
MIN_OUTPUT_TOKENS = 200
TEXT_OUTPUT_TOKENS = 1000   # markdown, code and text replies
LOW_FACTOR, HIGH_FACTOR = 0.6, 1.6      # range of a prior
INPUT_LOW_FACTOR = 0.8                  # the prompt is known: tokens per byte vary less
LOW_Q, HIGH_Q = 0.10, 0.90              # quantiles of history samples


def _quantile(values: list, q: float) -> float:
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _spread(values: list) -> Range:
    return Range(_quantile(values, LOW_Q), sum(values) / len(values), _quantile(values, HIGH_Q))


class Estimator:
    """Estimates tasks against one config and one history (see the module docstring)."""

    def __init__(self, config, history: History | None = None, *, reuse=None, quality_gate=None):
        """reuse: a reuse.ReuseStore to tell the tasks a run with reuse would not spawn (None:
        a run without reuse); quality_gate: the run's, which a kept result must pass too."""
        from parallel_agents.engine.ladder import Ladder
        self.config = config
        self.ladder = Ladder(config.tiers)
        self.history = history or History()
        self.reask = bool(config.retry.get("reask_invalid", True))
        self.unpriced: set[str] = set()
        self.reuse = reuse
        self.quality_gate = quality_gate

    # -- tokens ---------------------------------------------------------------------------------
    def _samples(self, table: dict, keys: list) -> list | None:
        for key in keys:
            values = table.get(key) if not callable(key) else key(table)
            if values and len(values) >= MIN_SAMPLES:
                return values
        return None

    def input_ratio(self, agent: str, model: str) -> tuple[Range, bool]:
        def per_model(table):
            return [x for (a, m), v in table.items() if m == model for x in v]

        def per_agent(table):
            return [x for (a, m), v in table.items() if a == agent for x in v]
        found = self._samples(self.history.input_ratios, [(agent, model), per_model, per_agent])
        if found:
            return _spread(found), True
        return Range(INPUT_LOW_FACTOR, 1.0, HIGH_FACTOR), False

    def output_tokens(self, definition, fmt: str, model: str) -> tuple[Range, bool]:
        def per_agent(table):
            return [x for (a, m), v in table.items() if a == definition.name for x in v]
        found = self._samples(self.history.outputs, [(definition.name, model), per_agent])
        if found:
            return _spread(found), True
        prior = _prior_output(definition, fmt)
        return Range(prior * LOW_FACTOR, prior, prior * HIGH_FACTOR), False

    # -- outcomes -------------------------------------------------------------------------------
    def rates(self, agent: str, tier: str) -> tuple[float, float, float]:
        """(plain attempts, re-asks, P(complete)) per visit of `tier` by `agent`."""
        prior = (PRIOR_PLAIN, PRIOR_REASKS, PRIOR_COMPLETE)
        every = self.history.tier_visits(tier)
        tier_rates = _shrunk(every, prior)
        rates = _shrunk(self.history.visits.get((agent, tier)) or Visits(), tier_rates)
        plain, reasks, complete = rates
        return max(1.0, plain), (reasks if self.reask else 0.0), min(1.0, max(0.0, complete))

    # -- one task --------------------------------------------------------------------------------
    def task(self, task, definition, fmt: str, tier_index: int, upstream: dict,
             probability: float = 1.0, extra: Range = ZERO) -> TaskEstimate:
        """upstream: {task_id: Range of one reply's output tokens} of its dependencies; extra:
        tokens its prompt has on top (an item not known yet)."""
        base = prompt_tokens(definition, task, fmt)
        fed = extra
        for dep in task.depends_on:
            fed += upstream.get(dep, ZERO)
        prompt = Range(base + fed.low, base + fed.expected, base + fed.high)
        prices = self.config.prices
        per_tier, reach, sourced, first_out = {}, 1.0, False, None
        last = len(self.ladder.tiers) - 1
        for index in range(tier_index, last + 1):
            tier = self.ladder.tier(index)
            model = tier.model or ""
            ratio, from_history_in = self.input_ratio(definition.name, model)
            out, from_history_out = self.output_tokens(definition, fmt, model)
            if index == tier_index:
                sourced = from_history_in or from_history_out
                first_out = out
            tokens_in = Range(prompt.low * ratio.low, prompt.expected * ratio.expected,
                              prompt.high * ratio.high)
            price = prices.get(model) if model else None
            if price is None and tier.model:
                self.unpriced.add(tier.model)
            one = Range(*(_usd(price, i, o) for i, o in
                          ((tokens_in.low, out.low), (tokens_in.expected, out.expected),
                           (tokens_in.high, out.high))))
            plain, reasks, complete = self.rates(definition.name, tier.name)
            attempts = reach * (plain + reasks)
            worst = 2 if self.reask else 1
            first = index == tier_index
            per_tier[tier.name] = TierCost(
                usd=Range(one.low if first else 0.0, attempts * one.expected, worst * one.high),
                input_tokens=Range(tokens_in.low if first else 0.0, attempts * tokens_in.expected,
                                   worst * tokens_in.high),
                output_tokens=Range(out.low if first else 0.0, attempts * out.expected,
                                    worst * out.high),
                attempts=attempts)
            reach *= 1.0 - complete
        if probability < 1:
            for cost in per_tier.values():
                cost.usd = Range(0.0, cost.usd.expected * probability, cost.usd.high)
                cost.input_tokens = Range(0.0, cost.input_tokens.expected * probability,
                                          cost.input_tokens.high)
                cost.output_tokens = Range(0.0, cost.output_tokens.expected * probability,
                                           cost.output_tokens.high)
                cost.attempts *= probability
        highest = max((self.output_tokens(definition, fmt, self.ladder.tier(i).model or "")[0].high
                       for i in range(tier_index, last + 1)), default=first_out.high)
        return TaskEstimate(task.task_id, definition.name, self.ladder.tier(tier_index).name,
                            "history" if sourced else "prompt", per_tier,
                            Range(first_out.low, first_out.expected, highest), probability)

    # -- reuse ---------------------------------------------------------------------------------------
    def reused_output(self, task, definition, fmt: str, tier_index: int, known: dict):
        """The output a run with reuse would take for `task` instead of spawning it, or _MISS.
        known: {task_id: output} of the tasks whose outputs are known before the run (reused)."""
        if self.reuse is None or any(d not in known for d in task.depends_on):
            return _MISS
        from parallel_agents.engine.reuse import first_attempt_key, still_valid
        try:
            prompt = first_prompt(definition, task, fmt, {d: known[d] for d in task.depends_on})
        except InputError:
            return _MISS
        entry = self.reuse.get(first_attempt_key(definition, prompt, fmt, self.ladder, None,
                                                 tier_index))
        if entry is None or not still_valid(entry["output"], definition, fmt):
            return _MISS
        if self.quality_gate is not None and self.quality_gate(task, entry["output"]) not in (True, None):
            return _MISS
        return entry["output"]

    def _reused(self, task, definition, tier_index: int, output) -> TaskEstimate:
        size = len(output.encode("utf-8", "surrogatepass")) if isinstance(output, str) else \
            len(json.dumps(output, default=str).encode())
        tokens = max(1.0, size / 4)
        return TaskEstimate(task.task_id, definition.name, self.ladder.tier(tier_index).name,
                            "reuse", {}, Range(tokens, tokens, tokens), reused=True)

    # -- groups ----------------------------------------------------------------------------------------
    def _unknown_group(self, task, definition, fmt: str, tier_index: int, done: dict,
                       probability: float) -> tuple[TaskEstimate, str]:
        """A group whose list comes from another task's output: left out (see the module
        docstring); the note says what one item costs, not counting the item itself."""
        cap = mapping.cap_of(task, self.config.max_map_items)
        source = mapping.source_of(task.for_each)
        [probe] = mapping.item_tasks(task, [None])
        one = self.task(probe, definition, fmt, tier_index,
                        {d: done[d].output_tokens_one for d in probe.depends_on if d in done},
                        probability).usd
        row = TaskEstimate(task.task_id, definition.name, self.ladder.tier(tier_index).name,
                           "group", {}, ZERO, probability, group=True, items=None)
        return row, (f"group {task.task_id}: its items come from the output of {source}, so "
                     f"their number (at most {cap}) is known only during the run; they are not "
                     "included in low, expected or high, nor their replies in what depends on "
                     f"it; each item costs about ${one.expected:.4f} (range ${one.low:.4f}-"
                     f"${one.high:.4f}) plus its item's own tokens")

    def estimate(self, tasks: list, definitions: dict, prepared: dict, *,
                 probabilities: dict | None = None) -> Estimate:
        """definitions/prepared: {task_id: AgentDefinition / taskcheck.Prepared} of valid tasks.
        Rows in the order of `tasks`, a group's items after it (as a run's results)."""
        done: dict[str, TaskEstimate] = {}
        rows: dict[str, list] = {}
        known: dict = {}          # outputs known before the run: of tasks that would be reused
        notes, priced_after = [], 0

        def one(task, definition, p, probability) -> TaskEstimate:
            nonlocal priced_after
            output = self.reused_output(task, definition, p.fmt, p.tier_index, known)
            if output is not _MISS:
                known[task.task_id] = output
                return self._reused(task, definition, p.tier_index, output)
            if self.reuse is not None and task.depends_on:
                priced_after += 1
            upstream = {d: done[d].output_tokens_one for d in task.depends_on if d in done}
            return self.task(task, definition, p.fmt, p.tier_index, upstream, probability)

        for task in _in_order(tasks):
            d, p = definitions[task.task_id], prepared[task.task_id]
            probability = (probabilities or {}).get(task.task_id, 1.0)
            if task.for_each is None:
                done[task.task_id] = one(task, d, p, probability)
                rows[task.task_id] = [done[task.task_id]]
            elif "items" in task.for_each:
                items = [one(item, d, p, probability)
                         for item in mapping.item_tasks(task, task.for_each["items"])]
                fed = ZERO
                for item in items:
                    fed += item.output_tokens_one
                done[task.task_id] = TaskEstimate(
                    task.task_id, d.name, self.ladder.tier(p.tier_index).name, "group", {}, fed,
                    probability, group=True, items=len(items))
                if items and all(i.reused for i in items):   # the group's list is known too
                    known[task.task_id] = [known[i.task_id] for i in items]
                rows[task.task_id] = [done[task.task_id], *items]
            else:
                done[task.task_id], note = self._unknown_group(task, d, p.fmt, p.tier_index,
                                                               done, probability)
                rows[task.task_id] = [done[task.task_id]]
                notes.append(note)
        if priced_after:
            notes.append(f"reuse: {priced_after} task(s) take upstream outputs known only during "
                         "the run and are priced as spawns (the run may still reuse them)")
        return Estimate([row for t in tasks for row in rows[t.task_id]], sorted(self.unpriced),
                        self.history.runs, [t.name for t in self.ladder.tiers], notes)


_MISS = object()


def _shrunk(v: Visits, prior: tuple) -> tuple[float, float, float]:
    n, k = v.visits, PSEUDO_VISITS
    return ((v.plain + k * prior[0]) / (n + k), (v.reasks + k * prior[1]) / (n + k),
            (v.completed + k * prior[2]) / (n + k))


def _usd(price: dict | None, tokens_in: float, tokens_out: float) -> float:
    if not price:
        return 0.0
    return (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6


def _prior_output(definition, fmt: str) -> float:
    if fmt != "json" or not definition.output_schema:
        return float(TEXT_OUTPUT_TOKENS)
    from parallel_agents.definitions.model import schema_registry
    from parallel_agents.definitions.samples import sample
    try:
        size = len(json.dumps(sample(definition.output_schema, schema_registry()), default=str))
    except (ValueError, TypeError, RecursionError, KeyError):
        size = len(json.dumps(definition.output_schema, default=str))
    return max(float(MIN_OUTPUT_TOKENS), OUTPUT_SAMPLE_FACTOR * size / 4)


def _in_order(tasks: list) -> list:
    """Tasks with every dependency before its dependents (prepare_tasks refused cycles)."""
    by_id = {t.task_id: t for t in tasks}
    placed, order = set(), []
    for root in tasks:
        stack = [(root, False)]
        while stack:
            task, expanded = stack.pop()
            if task.task_id in placed:
                continue
            if expanded:
                placed.add(task.task_id)
                order.append(task)
                continue
            stack.append((task, True))
            stack.extend((by_id[d], False) for d in task.depends_on
                         if d in by_id and d not in placed)
    return order


def estimate_tasks(tasks: list, *, registry, config, history: History | None = None,
                   probabilities: dict | None = None, reuse=None, quality_gate=None) -> Estimate:
    """Check the tasks as a run would (taskcheck.prepare_tasks: the same errors) and estimate
    them against `history` (default: none; see usage_history.load_history). reuse: the
    reuse.ReuseStore of a run with reuse (None: without); quality_gate: the run's."""
    from parallel_agents.engine.ladder import Ladder
    from parallel_agents.engine.taskcheck import prepare_tasks
    tasks = list(tasks)
    definitions = {t.task_id: registry.get(t.agent_type) for t in tasks}
    prepared = prepare_tasks(tasks, definitions, ladder=Ladder(config.tiers),
                             default_timeout=config.default_timeout_seconds,
                             max_input_bytes=config.max_input_bytes,
                             max_map_items=config.max_map_items)
    return Estimator(config, history, reuse=reuse, quality_gate=quality_gate).estimate(
        tasks, definitions, prepared, probabilities=probabilities)
