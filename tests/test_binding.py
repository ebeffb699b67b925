"""Binder gives what inspect.Signature.bind + apply_defaults gives, dict order included,
and refuses exactly the calls bind refuses."""

from __future__ import annotations

import inspect
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conveyor.binding import Binder


def plain(a, b, c=3, d=None):  # type: ignore[no-untyped-def]
    return a


def no_parameters():  # type: ignore[no-untyped-def]
    return 0


def with_star(a, *rest, k=1, **more):  # type: ignore[no-untyped-def]
    return a


def keyword_only(a, *, k, m=2):  # type: ignore[no-untyped-def]
    return a


def positional_only(a, b=2, /, c=3):  # type: ignore[no-untyped-def]
    return a


FUNCTIONS = [plain, no_parameters, with_star, keyword_only, positional_only]
NAMES = ["a", "b", "c", "d", "k", "m", "rest", "more", "z"]


def _expected(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return TypeError
    bound.apply_defaults()
    return list(bound.arguments.items())


@given(
    fn=st.sampled_from(FUNCTIONS),
    args=st.lists(st.integers(), max_size=5).map(tuple),
    kwargs=st.dictionaries(st.sampled_from(NAMES), st.integers(), max_size=4),
)
def test_binder_matches_bind(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    expected = _expected(fn, args, kwargs)
    binder = Binder(fn)
    if expected is TypeError:
        try:
            binder(args, kwargs)
        except TypeError:
            return
        raise AssertionError(f"{fn.__name__}{args}{kwargs} should be refused")
    assert list(binder(args, kwargs).items()) == expected  # same values, same order


def test_the_common_calls() -> None:
    binder = Binder(plain)
    assert list(binder((1, 2), {}).items()) == [("a", 1), ("b", 2), ("c", 3), ("d", None)]
    assert list(binder((1,), {"d": 4, "b": 2}).items()) == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    assert binder((1, 2, 3, 4), {}) == {"a": 1, "b": 2, "c": 3, "d": 4}
