"""The metadata interface cannot drift from the SQLite store that implements it (how the
stores behave: conveyor.testing.metadata, run by tests/test_metadata_conformance.py)."""

from __future__ import annotations

import inspect

import pytest
from conveyor.metadata import (
    MetadataStore,
    MetadataWriter,
    RunWriter,
    SQLiteStore,
)
from conveyor.metadata.upkeep import LineageWriter, UpkeepStore

#: Return types the implementation names concretely where the protocol names its own
#: (mypy checks they conform: ``get_store`` returns a SQLiteStore as a MetadataStore).
CONCRETE = {"sqlite3.Row": "Row", "RunWriter": "MetadataWriter", "list[": "Sequence["}


def _members(protocol: type) -> list[str]:
    return sorted(n for n in vars(protocol) if not n.startswith("_"))


def _normal(annotation: object) -> object:
    if isinstance(annotation, str):
        for concrete, abstract in CONCRETE.items():
            annotation = annotation.replace(concrete, abstract)
    return annotation


PAIRS = [(MetadataStore, SQLiteStore), (MetadataWriter, RunWriter), (UpkeepStore, SQLiteStore),
         (LineageWriter, RunWriter)]
CASES = [(p, impl, name) for p, impl in PAIRS for name in _members(p)]


def test_the_protocols_list_what_the_core_uses():
    assert {"put_block_document", "get_block_document", "save_block", "load_block",
            "list_blocks", "delete_block", "saved_block_names", "writer", "flush",
            "cache_lookup", "cache_delete", "read_flow_run", "read_flow_runs",
            "read_subflow_runs", "read_result_records", "read_task_run", "read_task_runs",
            "read_states", "schema_version", "close", "location", "after_fork", "read_flow_run_page",
            "read_flow_names", "read_resumed_runs", "find_run_ids",
            "read_result_rows"} <= set(_members(MetadataStore))
    assert {"store", "create_flow_run", "create_task_run", "set_state", "put_cache",
            "flush"} <= set(_members(MetadataWriter))
    assert "path" not in _members(MetadataStore)  # a file's path is SQLite's own; every backend has a location
    assert "query" not in _members(MetadataStore)  # raw SQL is SQLite's own


@pytest.mark.parametrize(("protocol", "impl", "name"), CASES,
                         ids=[f"{p.__name__}.{n}" for p, _i, n in CASES])
def test_implementation_matches_protocol(protocol, impl, name):
    wanted = vars(protocol)[name]
    if isinstance(wanted, property):
        # A property of the protocol: a property of the class, or set by __init__.
        got = getattr(impl, name, None)
        if got is None:
            assert f"self.{name} = " in inspect.getsource(impl.__init__), f"{impl.__name__}.{name}"
        else:
            assert isinstance(got, property), f"{impl.__name__}.{name} is not a property"
        return
    assert callable(getattr(impl, name, None)), f"{impl.__name__} has no method {name}"
    want = inspect.signature(wanted)
    got = inspect.signature(getattr(impl, name))
    assert [(p.name, p.kind, p.default, p.annotation) for p in got.parameters.values()] == [
        (p.name, p.kind, p.default, p.annotation) for p in want.parameters.values()
    ], f"{impl.__name__}.{name}{got} != {protocol.__name__}.{name}{want}"
    assert want.return_annotation in (got.return_annotation, _normal(got.return_annotation)), (
        f"{impl.__name__}.{name} returns {got.return_annotation}, not {want.return_annotation}"
    )
