"""When is a result persisted? The built-in rules, as a plain function and a hook.

For each task run and flow run the first rule that applies decides:

1. its own explicit ``persist_result`` (``True``: always, ``False``: never);
2. its own explicit ``result_storage``, ``result_serializer`` or ``result_storage_key``: persist;
3. the explicit ``persist_result`` of the nearest enclosing flow that sets one;
4. a feature that needs the value later (``retries > 0``, a ``cache_key_fn``, or
   ``cache_result_in_memory=False``, which reads the value back from storage): persist;
5. the setting ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT``.

The rules are a plain function here; :mod:`conveyor.plugins.builtin_policy` registers
them as the ``trylast`` implementation of ``conveyor_resolve_persistence``, so a plugin
can replace them.

May import: attrs only (a test can call the rules with any combination of options).
"""

from __future__ import annotations

from typing import Literal

import attrs

RunKind = Literal["task", "flow"]


@attrs.frozen
class PersistenceOptions:
    """What bears on one run's persistence decision.

    :ivar kind: ``"task"`` or ``"flow"``.
    :ivar name: the task's or flow's name, for messages.
    :ivar persist_result: the run's own ``persist_result`` (``None``: not given).
    :ivar has_result_storage: the run gave ``result_storage`` itself.
    :ivar has_result_serializer: the run gave ``result_serializer`` itself.
    :ivar has_result_storage_key: the run gave ``result_storage_key`` itself.
    :ivar flow_persist_result: explicit ``persist_result`` of the nearest enclosing flow
        that sets one (``None``: no enclosing flow sets it).
    :ivar flow_name: name of that flow.
    :ivar retries: the run's ``retries``.
    :ivar has_cache_key_fn: the run has a ``cache_key_fn``.
    :ivar persist_by_default: the setting ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT``.
    :ivar cache_result_in_memory: the run's ``cache_result_in_memory`` (False: the value
        is read back from storage whenever it is asked for, so it must be persisted).
    """

    kind: RunKind
    name: str
    persist_result: bool | None = None
    has_result_storage: bool = False
    has_result_serializer: bool = False
    has_result_storage_key: bool = False
    flow_persist_result: bool | None = None
    flow_name: str | None = None
    retries: int = 0
    has_cache_key_fn: bool = False
    persist_by_default: bool = False
    cache_result_in_memory: bool = True

    @property
    def needs_value_later(self) -> bool:
        return self.retries > 0 or self.has_cache_key_fn or not self.cache_result_in_memory


@attrs.frozen
class PersistenceDecision:
    """The answer for one run.

    :ivar persist: write the result to storage.
    :ivar rule: which rule decided (1-5), or 0 for a plugin's own rule.
    :ivar reason: a short sentence for logs and ``conveyor runs show``.
    :ivar disabled_by: when persistence was switched off explicitly (rules 1 and 3),
        the option that did it, e.g. ``"persist_result=False on task 'load'"``; a feature
        that needs the value later then raises ``ConfigurationError`` naming it.
    """

    persist: bool
    rule: int
    reason: str
    disabled_by: str | None = None

    @property
    def inferred(self) -> bool:
        """Persistence was only inferred (rules 4 and 5), not asked for explicitly: a
        serializer that refuses the value then leaves it in memory instead of failing."""
        return self.persist and self.rule in (4, 5)


def builtin_rules(options: PersistenceOptions) -> PersistenceDecision:
    """Apply the five built-in rules; see the module docstring."""
    own = f"{options.kind} {options.name!r}"
    if options.persist_result is not None:
        flag = options.persist_result
        return PersistenceDecision(
            persist=flag,
            rule=1,
            reason=f"persist_result={flag} on {own}",
            disabled_by=None if flag else f"persist_result=False on {own}",
        )
    explicit = [
        opt
        for opt, given in (
            ("result_storage", options.has_result_storage),
            ("result_serializer", options.has_result_serializer),
            ("result_storage_key", options.has_result_storage_key),
        )
        if given
    ]
    if explicit:
        return PersistenceDecision(True, 2, f"{', '.join(explicit)} set on {own}")
    if options.flow_persist_result is not None:
        flag = options.flow_persist_result
        where = f"persist_result={flag} on enclosing flow {options.flow_name!r}"
        return PersistenceDecision(flag, 3, where, disabled_by=None if flag else where)
    if options.needs_value_later:
        if options.retries > 0:
            feature = "retries"
        elif options.has_cache_key_fn:
            feature = "cache_key_fn"
        else:
            feature = "cache_result_in_memory=False"
        return PersistenceDecision(True, 4, f"{feature} on {own} needs the value later")
    flag = options.persist_by_default
    return PersistenceDecision(flag, 5, f"CONVEYOR_RESULTS_PERSIST_BY_DEFAULT={str(flag).lower()}")
