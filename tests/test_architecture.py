"""The package's folders are its architecture (README, "Layout"), and this keeps them so.

- Layers, lowest first (LAYERS): a module imports only from its own layer or lower ones - at
  module level and inside functions alike (a lazy import is still a dependency). The package's
  root modules (orchestrator, runtimes, api, helpers_api) are the public API, above the
  workflows and below host mode, releases and the CLI.
- No import cycles anywhere, lazy imports included.
- No private name (`_x`) of one module used by another: `from m import _x` or `m._x`.
- No module over MAX_LINES lines.

Each rule reports every offender with its file and line, so a failure says what to move.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "parallel_agents"
ROOT = ""   # the layer of the package's root modules: the public API
LAYERS = ["core", "definitions", "prompts", "openclaw", "replies", "engine", "simulation",
          "workflows", ROOT, "host", "release", "cli"]
MAX_LINES = 400


def _name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ROOT


@dataclass(frozen=True)
class Import:
    source: str     # the importing module
    target: str     # the imported module
    names: tuple    # the names taken from it (from-imports)
    line: int

    def __str__(self):
        return f"{MODULES[self.source].relative_to(REPO)}:{self.line}: {self.source} -> {self.target}"


def _imports(module: str) -> list[Import]:
    """Every import of a package module by `module`, wherever it is written."""
    found = []
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{MODULES[module]}:{node.lineno}: relative import: write "
                                 "`from parallel_agents.<layer>.<module> import ...`")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("parallel_agents"):
            for alias in node.names:   # `from parallel_agents.engine import tasks`: the module
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    found.append(Import(module, sub, (), node.lineno))
            if node.module in MODULES:
                names = tuple(a.name for a in node.names if f"{node.module}.{a.name}" not in MODULES)
                if names:
                    found.append(Import(module, node.module, names, node.lineno))
        elif isinstance(node, ast.Import):
            found += [Import(module, a.name, (), node.lineno) for a in node.names if a.name in MODULES]
    return [i for i in found if i.target != module]


IMPORTS = [i for m in MODULES for i in _imports(m)]


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def test_every_module_sits_in_a_known_layer():
    loose = [str(p.relative_to(REPO)) for m, p in MODULES.items()
             if len(m.split(".")) > 2 and m.split(".")[1] not in LAYERS]
    assert not loose, f"modules in a folder that is no layer: {loose} (add it to LAYERS, in order)"
    nested = [str(p.relative_to(REPO)) for m, p in MODULES.items() if len(m.split(".")) > 3]
    assert not nested, f"one level of folders: {nested}"


def test_lower_layers_never_import_higher_ones():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [f"{i} ({layer(i.source) or 'root'} imports {layer(i.target) or 'root'})"
              for i in IMPORTS
              if not _is_package(i.target) and rank[layer(i.target)] > rank[layer(i.source)]]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_import_cycles_lazy_imports_included():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in IMPORTS:
        if not _is_package(i.target):
            graph[i.source].add(i.target)
    cycles = _strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(
        " <-> ".join(sorted(c)) + "\n  " + "\n  ".join(
            str(i) for i in IMPORTS if i.source in c and i.target in c) for c in cycles)


def test_no_private_name_is_used_outside_its_module():
    used = []
    for i in IMPORTS:
        used += [f"{i}: {n}" for n in i.names if n.startswith("_") and not n.startswith("__")]
    for module, path in MODULES.items():   # `mod._x` on an imported package module
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {a.asname or a.name.split(".")[-1]: f"{n.module}.{a.name}"
                   for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                   for a in n.names if f"{n.module}.{a.name}" in MODULES}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                used.append(f"{path.relative_to(REPO)}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
    assert not used, "private names used outside their module (make them public, or move the " \
                     "code that needs them):\n" + "\n".join(used)


def test_no_module_is_over_the_size_limit():
    big = [f"{p.relative_to(REPO)}: {n} lines" for p in MODULES.values()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not big, f"modules over {MAX_LINES} lines (split them by concept):\n" + "\n".join(big)


def test_the_facades_stay_thin_and_import_only_the_public_surface():
    for facade in ("ai_orchestrator.py", "helpers.py"):
        text = (REPO / facade).read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 80, f"{facade} grew: it only wires"
        tree = ast.parse(text)
        private = [f"{facade}:{n.lineno}: {a.name}" for n in ast.walk(tree)
                   if isinstance(n, ast.ImportFrom) for a in n.names
                   if a.name.startswith("_") and not a.name.startswith("__")]
        assert not private, private


@pytest.mark.parametrize("rule", ["layers", "cycles", "private"])
def test_the_rules_catch_what_they_are_for(rule, tmp_path):
    """Each rule fails on a small example of what it forbids (the checks themselves can fail)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    if rule == "cycles":
        assert _strongly_connected(graph) == [{"a", "b", "c"}]
    elif rule == "layers":
        rank = {name: i for i, name in enumerate(LAYERS)}
        assert rank[layer("parallel_agents.engine.scheduler")] > rank[layer("parallel_agents.core.errors")]
        assert layer("parallel_agents.orchestrator") == ROOT
        assert rank[ROOT] < rank["cli"] and rank["engine"] < rank[ROOT]
    else:
        source = "from parallel_agents.engine.tasks import _content_id\n"
        tree = ast.parse(source)
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
        assert [n for n in names if n.startswith("_") and not n.startswith("__")] == ["_content_id"]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm without recursion: the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found
