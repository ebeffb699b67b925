"""Every hook is documented, typed and exercised by a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from conveyor import hookspecs

HOOKS = [
    name
    for name, fn in vars(hookspecs).items()
    if name.startswith("conveyor_") and callable(fn)
]
ROOT = Path(__file__).resolve().parents[1]


def test_there_are_hooks():
    assert {"conveyor_register_serializers", "conveyor_register_storage", "conveyor_resolve_persistence"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name):
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    assert doc, f"{name} has no docstring"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    assert ":return:" in doc or "-> None" in str(inspect.signature(fn)) or "None" == fn.__annotations__.get("return")
    opts = getattr(fn, "conveyor_spec", {})
    if opts.get("firstresult"):
        assert "Stops at the first non-None result" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name):
    sources = [p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_hookspecs.py"]
    sources += [p.read_text() for p in (ROOT / "plugins").glob("*/tests/test_*.py")]
    assert any(name in s for s in sources), f"no test mentions {name}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_the_docs(name):
    docs = "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    assert name in docs, f"docs/ never mention {name}"
