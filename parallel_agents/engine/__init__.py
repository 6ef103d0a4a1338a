"""Running tasks to a final, explained status: tasks and task files, pre-flight checks, the
scheduler, re-ask/escalation policy, the ladder, costs and estimates, the journal and its
locks, events, the dependency graph, for_each groups, reuse of finished work.
Imports: core, definitions, prompts, replies, openclaw."""
