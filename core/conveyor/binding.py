"""A call's arguments by parameter name, fast: :class:`Binder`.

``inspect.Signature.bind`` + ``apply_defaults`` costs several microseconds per call, and
a task's parameters are needed on its hot paths (a cache key, the input hash of a
persisted run, a run name). Most task functions have plain parameters only (no
``*args``, ``**kwargs``, positional-only or keyword-only ones): for those a
:class:`Binder` fills the dict itself, in parameter order, exactly as ``bind`` would.
Anything else, and every call ``bind`` would refuse, goes through ``bind``, so its
``TypeError`` is the one Python gives.

May import: the standard library only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

_PLAIN = inspect.Parameter.POSITIONAL_OR_KEYWORD
_EMPTY = inspect.Parameter.empty


class Binder:
    """``binder(args, kwargs)``: the arguments of a call of ``fn`` by parameter name,
    defaults applied (what ``inspect.signature(fn).bind(...)`` gives, as a dict)."""

    __slots__ = ("_defaults", "_names", "_signature")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._signature = signature = inspect.signature(fn)
        params = list(signature.parameters.values())
        #: the parameter names, when every parameter is a plain one (else None: use bind)
        self._names: tuple[str, ...] | None = (
            tuple(p.name for p in params) if all(p.kind is _PLAIN for p in params) else None
        )
        self._defaults = {p.name: p.default for p in params if p.default is not _EMPTY}

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self._names
        if names is not None:
            count = len(args)
            if not kwargs and count == len(names):
                return dict(zip(names, args))
            if count <= len(names):
                bound = self._fill(names, args, kwargs)
                if bound is not None:
                    return bound
        bound_args = self._signature.bind(*args, **kwargs)  # raises Python's own TypeError
        bound_args.apply_defaults()
        return dict(bound_args.arguments)

    def _fill(self, names: tuple[str, ...], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """The arguments in parameter order; None when ``bind`` would refuse the call."""
        count = len(args)
        defaults = self._defaults
        bound = dict(zip(names, args))
        used = 0
        for name in names[count:]:
            if name in kwargs:
                bound[name] = kwargs[name]
                used += 1
            elif name in defaults:
                bound[name] = defaults[name]
            else:
                return None  # a missing argument
        if used != len(kwargs):
            return None  # an unknown keyword, or one already given by position
        return bound


__all__ = ["Binder"]
