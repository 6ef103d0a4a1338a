"""The simulated meta agents: the agents that design, review and refine agents, and the planner,
played so that workflows behave as they would with a model.

The planner returns a valid plan over the agents it is offered; the agent creator designs a
sample definition for the requested name and purpose; the design reviewer scores a design by
its revision (a `[simulated revision N]` marker the refiner adds to the description: about 7 at
first, +1.1 per revision), so refinement loops converge; the refiner applies the review's fixes
as changes and bumps that marker.

Each player is `play(player, prompt) -> dict`, the agent's reply (simulated.AgentPlayer sends it
as JSON); META_PLAYERS maps the agents' names to them.
"""
from __future__ import annotations

import re

from parallel_agents.definitions.samples import agent_definition_sample, seed_of
from parallel_agents.simulation.prompt_reading import data_blocks, input_block, task_text

__all__ = ["META_PLAYERS", "play_creator", "play_reviewer", "play_refiner", "play_planner",
           "revision_of"]

_REVISION = re.compile(r"\s*\[simulated revision (\d+)\]\s*$")
_FIXES = (
    ("method", "system_prompt", "The method does not say what to do when the input data is empty "
     "or lacks a field the task needs, so the agent may invent it.",
     "Add to the method: 'If the input data is empty or lacks something the task needs, say "
     "what is missing in the reply instead of guessing.'"),
    ("output_contract", "output_schema", "Some properties say what type they are but not what "
     "goes in them, so replies vary between runs.",
     "Give every property of output_schema a description of what it must contain."),
    ("robustness", "system_prompt", "Nothing forbids inventing sources or data.",
     "Add to the rules: '- Never invent facts, sources or data the input does not give.'"),
)


def _design_in(prompt: str) -> dict | None:
    """The definition a reviewer or refiner is given: `definition`, `revision.definition`, or a
    definition among the results of earlier tasks."""
    candidates = []
    for block in data_blocks(prompt):
        if isinstance(block, dict):
            candidates += [block.get("definition"), (block.get("revision") or {}).get("definition")]
            candidates += list(block.values())
    return next((c for c in candidates if isinstance(c, dict) and "system_prompt" in c), None)


def revision_of(definition: dict) -> int:
    match = _REVISION.search(str(definition.get("description", "")))
    return int(match.group(1)) if match else 1


def play_reviewer(player, prompt: str) -> dict:
    design = _design_in(prompt)
    if design is None:
        score, dims = 3.0, dict.fromkeys(("role_clarity", "method", "output_contract",
                                          "robustness", "safety"), 3.0)
        issues = [{"dimension": "role_clarity", "field": "name", "problem": "[simulated] No agent "
                   "definition was given to review.", "fix": "Pass the design as `definition`."}]
    else:
        base = 6.8 + seed_of(str(design.get("name"))) % 9 / 10
        score = round(min(9.6, base + 1.1 * (revision_of(design) - 1)), 1)
        offsets = {"role_clarity": 0.3, "method": -0.2, "output_contract": 0.0, "robustness": 0.2,
                   "safety": -0.1}
        dims = {k: round(min(10.0, max(0.0, score + v)), 1) for k, v in offsets.items()}
        issues = [] if score >= 8.5 else [
            {"dimension": dim, "field": fld, "problem": f"[simulated] {problem}", "fix": fix}
            for dim, fld, problem, fix in _FIXES[: 3 if score < 7.5 else 2]]
    verdict = "ready" if score >= 8.5 else ("redesign" if score < 4 else "revise")
    return {"score": score, "dimension_scores": dims, "verdict": verdict, "issues": issues,
            "strengths": ["[simulated] The role paragraph says who the agent is and what it works on."]}


def play_refiner(player, prompt: str) -> dict:
    data = input_block(prompt)
    design = _design_in(prompt) or agent_definition_sample("refined_agent", "")
    issues = (data.get("review") or {}).get("issues") or []
    revision = revision_of(design) + 1
    marker = f" [simulated revision {revision}]"
    description = _REVISION.sub("", str(design.get("description", ""))).strip()
    prompt = str(design.get("system_prompt", "")).rstrip()
    for issue in issues:  # a fix that quotes a line to add is applied as a rule
        quoted = re.search(r"'(.+)'", str(issue.get("fix", ""))) if isinstance(issue, dict) else None
        if quoted and quoted.group(1) not in prompt:
            line = quoted.group(1)
            prompt += "\n" + (line if line.startswith("- ") else f"- {line}")
    refined = {**design, "description": description[: 300 - len(marker)] + marker,
               "system_prompt": prompt + "\n"}
    changes = [{"field": i.get("field", "system_prompt"), "change": f"[simulated] applied: {i.get('fix', '')}",
                "addresses": i.get("problem", "")} for i in issues if isinstance(i, dict)]
    changes.append({"field": "description", "change": f"revision marker set to {revision}",
                    "addresses": "the simulated revision counter"})
    return {"definition": refined, "changes": changes, "declined": []}


_CREATE_GOAL = re.compile(r"\b(create|design|build|make|bootstrap)\b.*\bagents?\b", re.I | re.S)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}


def _count_in(goal: str) -> int | None:
    match = re.search(r"\b(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")\b", goal, re.I)
    if not match:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


_STOP = {"about", "that", "this", "with", "from", "your", "their", "which", "when", "what",
         "into", "each", "only", "them", "they", "will", "have", "more", "make", "sure", "ensure",
         "given", "task", "tasks", "agent", "agents"}


def _words(text: str) -> set[str]:
    """Crude stems (first four letters) of the content words of a text."""
    return {w[:4] for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4 and w not in _STOP}


def play_planner(player, prompt: str) -> dict:
    data = input_block(prompt)
    goal = str(data.get("goal") or task_text(prompt))
    offered = data.get("available_agents") or player.registry.names()
    names = [a.get("name") if isinstance(a, dict) else a for a in offered]
    described = {n: (a.get("description", "") if isinstance(a, dict) else "")
                 for n, a in zip(names, offered)}
    limit = max(1, min(int(data.get("max_tasks") or 10), 50))
    tasks = []
    if _CREATE_GOAL.search(goal) and "agent_creator" in names:
        for i in range(1, min(_count_in(goal) or 2, limit, 10) + 1):
            tasks.append({"id": f"create-{i}", "agent_type": "agent_creator",
                          "description": "Design one new agent type for the request in the input.",
                          "input": {"name": f"new_agent_{i}",
                                    "purpose": f"agent {i} of the goal: {goal}"[:200]},
                          "depends_on": []})
        if "agent_design_reviewer" in names:
            for t in list(tasks)[: max(0, limit - len(tasks))]:
                tasks.append({"id": t["id"].replace("create", "review"),
                              "agent_type": "agent_design_reviewer",
                              "description": "Review the agent design from the task this one depends on.",
                              "input": {"requirements": t["input"]}, "depends_on": [t["id"]]})
    else:
        wanted = _words(goal)
        workers = [n for n in names if not n.startswith("agent_")]  # meta agents build agents
        overlap = {n: len(wanted & _words(f"{n.replace('_', ' ')} {described[n]}")) for n in workers}
        picked = [n for n in sorted(workers, key=lambda n: -overlap[n]) if overlap[n]][:min(3, limit)]
        picked = picked or ["documentation_writer" if "documentation_writer" in names else names[0]]
        picked.sort(key=_reviews)  # makers first: a task comes after what it depends on
        first_maker = next((n for n in picked if not _reviews(n)), None)
        for i, name in enumerate(picked, start=1):
            tasks.append({"id": f"task-{i}", "agent_type": name,
                          "description": f"Do your part of this goal: {goal}",
                          "input": {"goal": goal},
                          "depends_on": ["task-%d" % (picked.index(first_maker) + 1)]
                          if _reviews(name) and first_maker else []})
    kinds = ", ".join(sorted({t["agent_type"] for t in tasks}))
    return {"summary": f"[simulated] A plan of {len(tasks)} task(s) for the goal, using {kinds}.",
            "tasks": tasks,
            "synthesis": "Merge the results in the order of the plan into one document; say "
                         "which tasks failed or scored low and what that leaves open."}


def _reviews(name: str) -> bool:
    return name.endswith("reviewer") or name == "test_engineer"


def play_creator(player, prompt: str) -> dict:
    request = input_block(prompt)
    return agent_definition_sample(request.get("name", ""), request.get("purpose", ""))


META_PLAYERS = {"agent_creator": play_creator, "agent_design_reviewer": play_reviewer,
                "agent_refiner": play_refiner, "agent_orchestrator": play_planner}
