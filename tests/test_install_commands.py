"""Every doc that recommends installing conveyor gives the one command that works.

conveyor is not on a package index: its distributions are installed from the ``dist/``
that ``make dist`` builds, with ``pip install --find-links dist 'conveyor[s3]'``
(``tests/test_wheel_install.py`` runs exactly that). A bare ``pip install conveyor`` or
``pip install 'conveyor[s3]'`` fails for a user, so no doc may say it. Installs of a
folder (``pip install ./examples/...``, ``pip install -e .``) are for developers of this
repository and are left alone.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
from conveyor.plugins.registry import KNOWN_PROVIDERS

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted(
    [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "plugins").glob("*/README.md")]
)
COMMAND = "pip install --find-links dist 'conveyor[s3]'"
#: A pip install command in running text or a code block, up to the end of its code span.
_PIP = re.compile(r"pip install (?P<args>[^`\n#]*)")
_OURS = re.compile(r"^conveyor(-[a-z0-9]+)*(\[[a-z0-9,]+\])?$")


def _installs(text: str) -> list[tuple[int, list[str]]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _PIP.finditer(line):
            try:
                args = shlex.split(match["args"])
            except ValueError:  # an unbalanced quote: not a command
                continue
            found.append((number, args))
    return found


def _names_ours(args: list[str]) -> bool:
    return any(_OURS.match(a) for a in args if not a.startswith("-"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_install_of_our_distributions_uses_find_links_dist(doc: Path) -> None:
    bad = [
        f"{doc.relative_to(REPO)}:{number}: pip install {' '.join(args)}"
        for number, args in _installs(doc.read_text(encoding="utf-8"))
        if _names_ours(args) and "--find-links" not in args
    ]
    assert bad == [], f"give `{COMMAND}` (the dist/ of `make dist`) instead of: {bad}"


def test_the_readme_and_the_storage_doc_give_the_exact_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use conveyor in your project", 1)[1].split("\n## ", 1)[0]
    assert "make dist" in section and COMMAND in section
    assert COMMAND in (REPO / "docs" / "storage.md").read_text(encoding="utf-8")
    assert COMMAND in (REPO / "plugins" / "storage_s3" / "README.md").read_text(encoding="utf-8")


def test_the_check_finds_a_bare_install() -> None:
    text = "Install with `pip install 'conveyor[s3]'`, or `pip install --find-links dist conveyor`."
    flagged = [args for _, args in _installs(text) if _names_ours(args) and "--find-links" not in args]
    assert flagged == [["conveyor[s3]"]]
    assert not _names_ours(["./examples/plugins/conveyor-serializer-rot13"])
    assert not _names_ours(["-e", ".[test]"])


SOURCES = sorted(
    [*(REPO / "core" / "conveyor").rglob("*.py"), *(REPO / "plugins").glob("*/conveyor_*/**/*.py")]
)


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_every_message_that_recommends_installing_ours_uses_find_links_dist() -> None:
    """Error messages and hints in the code (string constants, f-string parts included)."""
    bad = [
        f"{path.relative_to(REPO)}:{number}: {text!r}"
        for path in SOURCES
        for number, text in _string_constants(path)
        for _, args in _installs(text.replace(")", " "))
        if _names_ours(args) and "--find-links" not in args
    ]
    assert bad == [], f"give `{COMMAND}` (or the same with another extra) instead of: {bad}"


def test_the_missing_plugin_hints_give_the_same_command() -> None:
    """The install hints of the plugin registry (``KNOWN_PROVIDERS``) name the distribution
    and, for every pip command in them, install it from ``dist/``."""
    for name, hint in KNOWN_PROVIDERS.items():
        assert hint.startswith("conveyor-"), (name, hint)
        for args in (args for _, args in _installs(hint.replace(")", " "))):
            assert "--find-links" in args and "dist" in args, (name, hint)
    assert KNOWN_PROVIDERS["s3"] == f"conveyor-storage-s3 ({COMMAND})"
