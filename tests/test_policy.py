"""The persistence policy: the five built-in rules, and a plugin that replaces them."""

from __future__ import annotations

from conveyor import flow, hookimpl, plugins, task
from conveyor.policy import PersistenceDecision, PersistenceOptions, builtin_rules
from conveyor.results import ResultReference, UnpersistedResult
from hypothesis import given
from hypothesis import strategies as st

options = st.builds(
    PersistenceOptions,
    kind=st.sampled_from(["task", "flow"]),
    name=st.sampled_from(["load", "pipeline"]),
    persist_result=st.sampled_from([None, True, False]),
    has_result_storage=st.booleans(),
    has_result_serializer=st.booleans(),
    has_result_storage_key=st.booleans(),
    flow_persist_result=st.sampled_from([None, True, False]),
    flow_name=st.sampled_from([None, "outer"]),
    retries=st.integers(min_value=0, max_value=3),
    has_cache_key_fn=st.booleans(),
    persist_by_default=st.booleans(),
)


def expected(o: PersistenceOptions) -> tuple[bool, int, bool]:
    """The rules of API.md written as a table, independently: (persist, rule, switched off?)."""
    table = [
        (o.persist_result is not None, lambda: o.persist_result, True),
        (o.has_result_storage or o.has_result_serializer or o.has_result_storage_key, lambda: True, False),
        (o.flow_persist_result is not None, lambda: o.flow_persist_result, True),
        (o.retries > 0 or o.has_cache_key_fn, lambda: True, False),
        (True, lambda: o.persist_by_default, False),
    ]
    for number, (applies, value, explicit) in enumerate(table, start=1):
        if applies:
            persist = bool(value())
            return persist, number, explicit and not persist
    raise AssertionError("rule 5 always applies")


@given(options)
def test_builtin_rules_match_the_table(o: PersistenceOptions) -> None:
    decision = builtin_rules(o)
    persist, rule, switched_off = expected(o)
    assert (decision.persist, decision.rule) == (persist, rule)
    assert (decision.disabled_by is not None) == switched_off
    if switched_off:
        assert "persist_result=False" in decision.disabled_by
        assert (o.name if rule == 1 else o.flow_name or "None") in decision.disabled_by
    assert decision.reason


@given(options)
def test_the_hook_answers_with_the_builtin_rules_by_default(o: PersistenceOptions) -> None:
    assert plugins.resolve_persistence(o) == builtin_rules(o)


class PersistEverythingNamedKeep:
    """A throwaway plugin: persist runs named 'keep-*', leave the rest to the built-in rules."""

    @hookimpl
    def conveyor_resolve_persistence(self, options: PersistenceOptions) -> PersistenceDecision | None:
        if options.name.startswith("keep-"):
            return PersistenceDecision(True, 0, "named keep-*")
        return None


def test_a_plugin_overrides_the_rules_on_a_fresh_plugin_manager() -> None:
    pm = plugins.make_plugin_manager(plugins=[PersistEverythingNamedKeep()])

    @task(name="keep-me", persist_result=False)
    def kept() -> list[int]:
        return [1]

    @task
    def plain() -> list[int]:
        return [2]

    with plugins.use_plugin_manager(pm):
        decision = plugins.resolve_persistence(PersistenceOptions("task", "keep-me", persist_result=False))
        assert decision.rule == 0 and decision.persist
        assert isinstance(kept(return_state=True).data, ResultReference)
        assert isinstance(plain(return_state=True).data, UnpersistedResult)
    # Outside the block the built-in rules are back: persist_result=False wins.
    assert isinstance(kept(return_state=True).data, UnpersistedResult)


def test_a_flow_persists_by_rule_4_when_it_retries() -> None:
    @flow(retries=1)
    def pipeline() -> str:
        return "v"

    assert isinstance(pipeline(return_state=True).data, ResultReference)
