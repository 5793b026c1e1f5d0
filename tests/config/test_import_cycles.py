"""flask_sms's modules import each other one way: no cycle, not even through an import made only for
type checking (``if TYPE_CHECKING:``) or inside a function. The views see the extension through
``flask_sms.interface.SmsInterface``, a ``Protocol`` in a module of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import flask_sms

PACKAGE = Path(flask_sms.__file__).resolve().parent


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    found = set()
    for alias in node.names:
        submodule = f"{target}.{alias.name}"
        found.add(submodule if submodule in known else target)
    return found & known


def import_graph() -> dict[str, set[str]]:
    """Each module and the flask_sms modules it imports, anywhere in its source."""
    modules = _modules()
    graph = {}
    for module, (path, is_package) in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(module, is_package, node, set(modules))
        graph[module] = edges - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or ``None``."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walk_sees_the_package() -> None:
    graph = import_graph()
    assert {"flask_sms", "flask_sms.extension", "flask_sms.blueprint", "flask_sms.providers.aliyun"} <= set(graph)
    assert "flask_sms.extension" in graph["flask_sms"]
    assert "flask_sms.interface" in graph["flask_sms.blueprint"]


def test_the_walk_finds_a_cycle_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_flask_sms_imports_have_no_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_the_views_do_not_import_the_extension() -> None:
    graph = import_graph()
    for view in ("flask_sms.blueprint", "flask_sms.receipt_views", "flask_sms.cli", "flask_sms.contrib.flask_security"):
        assert "flask_sms.extension" not in graph[view], view
