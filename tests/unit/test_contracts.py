"""The registry sits above the domain: contracts are owned by their modules, no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import zephyr_integrations
from zephyr_integrations import hookspecs
from zephyr_integrations.backends import base
from zephyr_integrations.preferences import export, judging, strategies

PACKAGE = Path(zephyr_integrations.__file__).parent
TOP = "zephyr_integrations"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every project module ``path`` imports, at the top, in functions or for type checking
    (``from package import module`` counts as importing the module, not the package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found.update(submodules or {node.module})
    return found & modules


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(paths)) - {name} for name, path in paths.items()}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """An import path from ``start`` to ``goal``, or None."""
    seen = {start}
    stack = [[start]]
    while stack:
        path = stack.pop()
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == goal:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append([*path, nxt])
    return None


def test_the_registry_and_the_binarizing_modules_are_in_no_import_circle() -> None:
    graph = _graph()
    for name in ("hookspecs", "plugins", "preferences.binarize", "preferences.dataset_card"):
        module = f"{TOP}.{name}"
        assert module in graph
        circle = _reaches(graph, module, module)
        assert circle is None, " -> ".join(circle or [])


def test_the_domain_never_looks_names_up_in_the_registry() -> None:
    graph = _graph()
    domain = [m for m in graph if m.startswith((f"{TOP}.preferences", f"{TOP}.backends"))]
    assert domain
    for module in domain:
        assert f"{TOP}.plugins" not in graph[module], module


def test_hookspecs_imports_each_contract_from_its_owner() -> None:
    assert hookspecs.BackendFactory is base.BackendFactory
    assert hookspecs.Binarizer is strategies.Binarizer
    assert hookspecs.JudgeFactory is judging.JudgeFactory
    assert "Exporter" in export.__dict__
    source = Path(hookspecs.__file__).read_text(encoding="utf-8")
    assert "from zephyr_integrations.preferences.export import Exporter" in source
    for name in ("BackendFactory", "Binarizer", "JudgeFactory", "Exporter"):
        assert f"\n{name} = " not in source, f"{name} is defined in hookspecs, not its owner"
