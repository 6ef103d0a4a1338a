"""Ready-made teams (names and arguments of the skill we replace): lists of AgentTask for
`run_parallel`.

    tasks = create_content_team("Monday motivation", platform="bluesky")   # 5 writers at once
    tasks = create_dev_team("TaskManager", ["auth", "tasks", "teams"])      # API/DB first
    tasks = create_review_team(open("app.py").read())                      # 5 reviewers at once

Task ids are `<prefix>-<role>` (prefix defaults to the team), so two teams can share one run
when their prefixes differ. Each task gets its agent's own timeout.
"""
from __future__ import annotations

from parallel_agents.core.errors import InputError
from parallel_agents.engine.tasks import AgentTask

CONTENT_WRITERS = ("content_writer_creative", "content_writer_funny", "content_writer_educational",
                   "content_writer_trendy", "content_writer_controversial")
REVIEWERS = ("code_reviewer", "security_reviewer", "performance_reviewer",
             "accessibility_reviewer", "test_engineer")


def agent_task(agent_type: str, description: str, input_data: dict | None = None, *,
               registry=None, **fields) -> AgentTask:
    """An AgentTask that starts with the agent definition's own timeout (AgentTask's default is
    the seed's flat 120 s, too short for e.g. backend_developer)."""
    if "timeout_seconds" not in fields:
        from parallel_agents.definitions.registry import load_registry
        definition = (registry or load_registry()).get(agent_type)
        fields["timeout_seconds"] = definition.timeout_seconds or 120
    return AgentTask(agent_type, description, input_data or {}, **fields)


def _text(value, field: str, fix: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{field} must be a non-empty string, not {value!r}"[:160], field=field,
                         fix=fix)
    return value.strip()


def create_content_team(topic: str, platform: str = "bluesky", *, audience: str | None = None,
                        tone: str | None = None, id_prefix: str = "content",
                        registry=None) -> list[AgentTask]:
    """Five content writers (creative, funny, educational, trendy, controversial) on one topic,
    all independent, so they run at once."""
    topic = _text(topic, "topic", 'pass what the posts are about, e.g. "Monday motivation"')
    platform = _text(platform, "platform", 'name the platform, e.g. "bluesky"')
    data = {"topic": topic, "platform": platform}
    data.update({k: v for k, v in (("audience", audience), ("tone", tone)) if v})
    return [agent_task(w, f"Write posts about {topic} for {platform}.", dict(data),
                       registry=registry, task_id=f"{id_prefix}-{w.removeprefix('content_writer_')}")
            for w in CONTENT_WRITERS]


def _features(features) -> list[str]:
    if isinstance(features, str):
        features = [f for f in (p.strip() for p in features.split(",")) if f]
    if not isinstance(features, (list, tuple)) or not features or \
            not all(isinstance(f, str) and f.strip() for f in features):
        raise InputError("features must be a non-empty list of strings", field="features",
                         fix="pass e.g. ['auth', 'tasks', 'teams']")
    return [f.strip() for f in features]


def create_dev_team(app_name: str, features, *, backend_framework: str = "FastAPI",
                    frontend_framework: str = "React", id_prefix: str = "dev",
                    registry=None) -> list[AgentTask]:
    """Five development agents for one app. The API design and the database schema come first
    (in parallel); the backend gets both (`api_design`, `database_design`), the frontend gets the
    API design; DevOps works from the app and its stack alongside them."""
    app = _text(app_name, "app_name", 'name the app, e.g. "TaskManager"')
    app_data = {"app_name": app, "features": _features(features)}
    ids = {role: f"{id_prefix}-{role}" for role in ("api", "database", "backend", "frontend", "devops")}

    def task(role, agent, description, extra=None, input_from=None):
        return agent_task(agent, description, {**app_data, **(extra or {})}, registry=registry,
                          task_id=ids[role], input_from=input_from or {})

    return [
        task("api", "api_designer", f"Design the API of {app} for the features listed."),
        task("database", "database_architect",
             f"Design the database schema of {app} for the features listed."),
        task("backend", "backend_developer",
             f"Implement the backend of {app} against the API design and the database design.",
             {"framework": backend_framework},
             {"api_design": ids["api"], "database_design": ids["database"]}),
        task("frontend", "frontend_developer", f"Build the frontend of {app} against the API design.",
             {"framework": frontend_framework}, {"api_design": ids["api"]}),
        task("devops", "devops_engineer",
             f"Set up CI/CD, containers and deployment for {app}.",
             {"stack": {"backend": backend_framework, "frontend": frontend_framework}}),
    ]


def create_review_team(code: str, *, language: str | None = None, context: str | None = None,
                       id_prefix: str = "review", registry=None) -> list[AgentTask]:
    """Five reviewers of one piece of code, in parallel: code quality, security, performance,
    accessibility and test coverage."""
    _text(code, "code", "pass the source text, e.g. open('app.py').read()")
    data = {"code": code}  # as given: whitespace can matter in code
    data.update({k: v for k, v in (("language", language), ("context", context)) if v})
    what = {"code_reviewer": "code quality", "security_reviewer": "security",
            "performance_reviewer": "performance", "accessibility_reviewer": "accessibility",
            "test_engineer": "test coverage"}
    return [agent_task(r, f"Review this code for {what[r]}.", dict(data), registry=registry,
                       task_id=f"{id_prefix}-{r.split('_')[0]}")
            for r in REVIEWERS]
