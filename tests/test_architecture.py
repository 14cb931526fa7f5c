"""The project's import structure: no cycles, and layers that point one way."""

from __future__ import annotations

from tools.import_graph import cycles, import_graph


def test_no_import_cycles_among_bot_and_dream_core():
    graph = import_graph()
    assert "bot.app" in graph and "dream_core.executor.base" in graph  # the graph sees the packages
    assert cycles(graph) == []


def test_cycles_are_found():
    """The checker itself: a two-module loop and a three-module loop are reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b"], ["c", "d", "e"]]


def test_dream_core_does_not_import_the_bot():
    graph = import_graph()
    core = {m: targets for m, targets in graph.items() if m.startswith("dream_core")}
    wrong = {m: sorted(t for t in targets if t.startswith("bot")) for m, targets in core.items()}
    assert {m: t for m, t in wrong.items() if t} == {}


def test_late_and_type_checking_imports_count(tmp_path):
    """An import inside a function or under TYPE_CHECKING is still an edge of the graph."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.two import X\n")
    (pkg / "two.py").write_text("def f():\n    from . import one\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.one"] == {"pkg.two"} and graph["pkg.two"] == {"pkg.one"}
    assert cycles(graph) == [["pkg.one", "pkg.two"]]
