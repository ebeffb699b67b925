"""normalize_key: every block refuses keys that are absolute or climb out of its base path."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from conveyor.exceptions import InvalidKeyError
from conveyor.filesystems import normalize_key
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a", "a"),
        ("a/b/c", "a/b/c"),
        ("./a//b/./c/", "a/b/c"),
        ("a\\b", "a/b"),
        ("a..b/..c/d..", "a..b/..c/d.."),
        ("ümlaut", "ümlaut"),
    ],
)
def test_clean_keys(key: str, expected: str) -> None:
    assert normalize_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "",
        " ",
        "/",
        "/a",
        "\\a",
        "C:\\a",
        "c:/a",
        "..",
        "../a",
        "a/../..",
        "a/..",
        "a\\..\\..\\b",
        ".",
        "./",
    ],
)
def test_refused_keys(key: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        normalize_key(key, block="my-block")
    assert "my-block" in str(info.value)
    assert "\n" not in str(info.value)


def test_non_string_key() -> None:
    with pytest.raises(InvalidKeyError):
        normalize_key(None)  # type: ignore[arg-type]


segment = st.sampled_from(["a", "b", ".", "..", "", "c.d", "..e", "\\", "/"])


@given(st.lists(segment, max_size=8).map("/".join))
def test_accepted_keys_stay_inside(key: str) -> None:
    try:
        clean = normalize_key(key)
    except InvalidKeyError:
        return
    assert not clean.startswith("/")
    assert ".." not in clean.split("/")
    joined = posixpath.normpath(posixpath.join("/base", clean))
    assert joined.startswith("/base/")
    assert normalize_key(clean) == clean  # idempotent


# -- os.PathLike keys: the same rules as text -----------------------------------------------


class _Key:
    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (PurePosixPath("folder") / "x.txt", "folder/x.txt"),
        (Path("a") / "b" / "c", "a/b/c"),
        (PureWindowsPath("a") / "b", "a/b"),  # backslashes are separators, as in text
        (_Key("./a//b/"), "a/b"),
    ],
    ids=repr,
)
def test_path_objects_are_keys(key: os.PathLike[str], expected: str) -> None:
    assert normalize_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        PurePosixPath("/a"),
        Path("/"),
        PureWindowsPath("C:/a"),
        PureWindowsPath("//server/share/x"),
        Path(".."),
        Path("a") / ".." / "..",
        Path("."),
        _Key(""),
        _Key("a/../../b"),
    ],
    ids=repr,
)
def test_path_objects_that_escape_are_refused(key: os.PathLike[str]) -> None:
    with pytest.raises(InvalidKeyError) as info:
        normalize_key(key, block="my-block")
    assert repr(key) in str(info.value) and "my-block" in str(info.value)


@given(st.lists(segment, max_size=8).map("/".join))
def test_a_path_object_is_accepted_or_refused_exactly_as_its_text(key: str) -> None:
    try:
        expected: str | type[InvalidKeyError] = normalize_key(key)
    except InvalidKeyError:
        expected = InvalidKeyError
    try:
        got: str | type[InvalidKeyError] = normalize_key(_Key(key))
    except InvalidKeyError:
        got = InvalidKeyError
    assert got == expected
