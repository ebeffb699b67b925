"""Every ```python block in README.md and docs/*.md runs, so the docs cannot drift from the code.

Rules a doc writer relies on (also written down in docs/plugins.md, "Docs examples"):

- A fenced block whose language is ``python`` (or ``py``) is executed. Other languages
  (``console``, ``bash``, ``toml``, ``text``, ``pycon``…) are not.
- The python blocks of one file run in order, in one namespace (``__name__`` is
  ``"__main__"``), so a later block can use what an earlier one defined.
- Each file runs in a fresh temporary working directory, with its own
  ``CONVEYOR_HOME``, no ``CONVEYOR_LOCAL_STORAGE_PATH`` (so the documented default,
  ``./.conveyor-results``, applies) and a fresh plugin manager.
- An HTML comment on the line just before the fence changes that block:
  ``<!-- no-run -->`` skips it (for code that truly cannot run here, e.g. real AWS);
  ``<!-- file: PATH -->`` says the block is the whole content of the repository file
  PATH, which is checked; both can be combined: ``<!-- no-run file: PATH -->``.

The files are globbed at collection time, so docs added later are picked up.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import attrs
import pytest
from conveyor import plugins

REPO = Path(__file__).resolve().parent.parent
RUN_LANGUAGES = {"python", "py", "python3"}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<lang>[^\s`{]*)")
_MARKER = re.compile(r"^\s*<!--(?P<body>.*?)-->\s*$")


@attrs.frozen
class Block:
    path: Path
    line: int  # 1-based line of the first line of code
    language: str
    code: str
    run: bool
    file: str | None  # repository path whose content this block must equal

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def _marker(lines: list[str], fence_index: int) -> tuple[bool, str | None]:
    """(run?, file) from an HTML comment on the line just before the fence."""
    if fence_index == 0:
        return True, None
    found = _MARKER.match(lines[fence_index - 1])
    if not found:
        return True, None
    body = found["body"].strip()
    no_run = bool(re.search(r"(^|\s)no-run(\s|$)", body))
    file_match = re.search(r"file:\s*(\S+)", body)
    return not no_run, file_match.group(1) if file_match else None


def parse_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = opening["lang"].lower()
        run, file = _marker(lines, i)
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        else:
            raise AssertionError(
                f"{path.relative_to(REPO)}:{i + 1}: code fence {fence} is never closed"
            )
        blocks.append(Block(path, i + 2, language, "\n".join(body) + "\n", run, file))
        i = j + 1
    return blocks


def doc_files() -> list[Path]:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
    return [f for f in files if f.is_file()]


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("doc", doc_files(), ids=_id)
def test_doc_python_examples_run(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = [b for b in parse_blocks(doc) if b.language in RUN_LANGUAGES and b.run]
    if not blocks:
        pytest.skip(f"{_id(doc)} has no python examples")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "conveyor-home"))
    monkeypatch.delenv("CONVEYOR_LOCAL_STORAGE_PATH", raising=False)
    monkeypatch.setattr(sys, "argv", [str(doc)])
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(doc)}
    with plugins.use_plugin_manager(plugins.make_plugin_manager()):
        for block in blocks:
            # Pad with newlines so tracebacks show the line numbers of the Markdown file.
            source = "\n" * (block.line - 1) + block.code
            try:
                exec(compile(source, str(doc), "exec"), namespace)  # noqa: S102 - running the docs is the point
            except Exception as exc:
                raise AssertionError(
                    f"python example at {block.where} failed: {type(exc).__name__}: {exc}"
                ) from exc


def _file_blocks() -> list[Block]:
    return [b for doc in doc_files() for b in parse_blocks(doc) if b.file]


@pytest.mark.parametrize("block", _file_blocks(), ids=lambda b: f"{b.where}={b.file}")
def test_doc_file_listings_match_the_repository(block: Block) -> None:
    target = REPO / block.file
    assert target.is_file(), f"{block.where} shows {block.file}, which does not exist"
    assert block.code == target.read_text(encoding="utf-8"), (
        f"{block.where} shows {block.file} but the file differs; copy the file into the doc"
    )


# -- the runner's own rules ----------------------------------------------------------------


def test_parser_reads_languages_markers_and_line_numbers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# t\n"
        "```python\nx = 1\n```\n"
        "```console\n$ conveyor plugins\n```\n"
        "<!-- no-run -->\n```python\nimport boto3\n```\n"
        "<!-- file: README.md -->\n````toml\n```\n````\n"
        "<!-- no-run file: a/b.py -->\n```py\n  y = 2\n```\n"
    )
    monkeypatch_repo = pytest.MonkeyPatch()
    monkeypatch_repo.setattr(sys.modules[__name__], "REPO", tmp_path)
    try:
        blocks = parse_blocks(doc)
    finally:
        monkeypatch_repo.undo()
    assert [(b.language, b.line, b.run, b.file) for b in blocks] == [
        ("python", 3, True, None),
        ("console", 6, True, None),
        ("python", 10, False, None),
        ("toml", 14, True, "README.md"),
        ("py", 18, False, "a/b.py"),
    ]
    assert blocks[0].code == "x = 1\n"
    assert blocks[3].code == "```\n"
    assert blocks[4].code == "  y = 2\n"


def test_every_doc_is_collected() -> None:
    names = {_id(p) for p in doc_files()}
    assert "README.md" in names
    assert {_id(p) for p in (REPO / "docs").glob("*.md")} <= names
