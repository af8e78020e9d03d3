"""No two packages import each other, even round a loop: the top-level apps, and the platform
pieces in ``mi_admin/`` (a package cycle is how a lower layer ends up needing a higher one).

The import-linter contracts in pyproject.toml say the same per layer; this test reads the
import graph itself so a cycle between packages no contract names is caught too.
"""

from __future__ import annotations

import grimp
import pytest

ROOTS = ("mi_admin", "instances", "health", "mi_requests", "rollouts", "access", "fleetsim", "idp")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOTS)


def _package(module: str, depth: int) -> str | None:
    parts = module.split(".")
    if depth == 1:
        return parts[0]
    return ".".join(parts[:2]) if parts[0] == "mi_admin" and len(parts) > 1 else None


def _cycles(graph: grimp.ImportGraph, depth: int) -> list[set[str]]:
    """The strongly connected groups (more than one package) of the package import graph."""
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        importer = _package(module, depth)
        for imported_module in graph.find_modules_directly_imported_by(module):
            imported = _package(imported_module, depth)
            if importer and imported and importer != imported:
                edges.setdefault(importer, set()).add(imported)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {package: reachable(package) for package in edges}
    groups = {
        frozenset({p} | {q for q in reach[p] if p in reach.get(q, set())})
        for p in edges
        if p in reach[p]
    }
    return [set(group) for group in groups]


@pytest.mark.parametrize("depth", [1, 2], ids=["top-level apps", "mi_admin packages"])
def test_no_package_imports_itself_round_a_loop(graph: grimp.ImportGraph, depth: int) -> None:
    # given the project's import graph, grouped by package
    # when looking for packages that reach themselves
    cycles = _cycles(graph, depth)
    # then there are none
    assert cycles == []


def test_the_audit_trail_imports_no_accounts_ui_or_pages(graph: grimp.ImportGraph) -> None:
    # given the audit trail (which accounts records logins into)
    # when listing what it imports
    imported = {
        imported
        for module in graph.find_descendants("mi_admin.audit") | {"mi_admin.audit"}
        for imported in graph.find_modules_directly_imported_by(module)
    }
    # then none of it is accounts, the UI shell or the audit pages
    assert (
        sorted(
            m
            for m in imported
            if m.startswith(("mi_admin.accounts", "mi_admin.ui", "mi_admin.audit_"))
        )
        == []
    )
