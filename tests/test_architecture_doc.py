"""docs/architecture.md and the README's layout table stay true to the tree."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "core" / "conveyor"
DOC = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")


def _core_modules() -> list[str]:
    return sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*.py"))


def _named_paths(text: str) -> set[str]:
    """Backticked names that look like a module or folder path (``engine/calls.py``, ``cli/``)."""
    return {m for m in re.findall(r"`([A-Za-z_][\w./-]*(?:\.py|/))`", text) if "/" in m}


def test_every_core_module_is_on_the_map():
    def mentioned(module: str) -> bool:
        if module.endswith("/__init__.py"):  # a package: its folder's section names it
            return f"`{module[: -len('__init__.py')]}`" in DOC or f"`{module}`" in DOC
        return f"`{module}`" in DOC

    missing = [m for m in _core_modules() if not mentioned(m)]
    assert missing == [], f"docs/architecture.md does not mention: {', '.join(missing)}"


def test_every_path_on_the_map_exists():
    bad = []
    for name in _named_paths(DOC):
        candidates = [CORE / name, REPO / name]
        if not any(c.exists() for c in candidates):
            bad.append(name)
    assert bad == [], f"docs/architecture.md names paths that do not exist: {', '.join(sorted(bad))}"


def test_readme_layout_table_matches_the_tree():
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", layout, flags=re.MULTILINE)
    assert rows, "README has no layout table"
    missing = [r for r in rows if not (REPO / r.rstrip("/")).exists()]
    assert missing == [], f"README's layout table names paths that do not exist: {missing}"
    plugin_dirs = sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").exists())
    for name in plugin_dirs:
        assert f"`plugins/{name}/`" in README, f"README's layout table misses plugins/{name}/"
    for package in sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").exists()):
        assert f"`core/conveyor/{package}/`" in layout, f"README's layout table does not describe core/conveyor/{package}/"
