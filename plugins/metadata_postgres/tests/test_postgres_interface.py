"""PostgresStore has every method of the metadata protocols, with the same signature (the
check tests/test_metadata_interface.py makes of the SQLite store)."""

from __future__ import annotations

import inspect

import pytest
from conveyor.metadata import MetadataStore
from conveyor.metadata.upkeep import UpkeepStore
from conveyor_metadata_postgres import PostgresStore

CONCRETE = {"sqlite3.Row": "Row", "Record": "Row", "RunWriter": "MetadataWriter", "list[": "Sequence["}
NAMES = sorted({n for p in (MetadataStore, UpkeepStore) for n in vars(p) if not n.startswith("_")})


def _normal(annotation: object) -> object:
    if isinstance(annotation, str):
        for concrete, abstract in CONCRETE.items():
            annotation = annotation.replace(concrete, abstract)
    return annotation


@pytest.mark.parametrize("name", NAMES)
def test_postgres_store_matches_the_protocol(name):
    protocol = MetadataStore if name in vars(MetadataStore) else UpkeepStore
    wanted = vars(protocol)[name]
    got = getattr(PostgresStore, name, None)
    assert got is not None, f"PostgresStore has no {name}"
    if isinstance(wanted, property):
        assert isinstance(got, property), f"PostgresStore.{name} is not a property"
        return
    want, have = inspect.signature(wanted), inspect.signature(got)
    assert [(p.name, p.kind, p.default, p.annotation) for p in have.parameters.values()] == [
        (p.name, p.kind, p.default, p.annotation) for p in want.parameters.values()
    ], f"PostgresStore.{name}{have} != {want}"
    assert want.return_annotation in (have.return_annotation, _normal(have.return_annotation))
