"""PickleSerializer's configuration is JSON and rebuilds it exactly.

Apart from test_serializer_pickle.py, which is skipped without numpy.
"""

from __future__ import annotations

import json

import pytest
from conveyor.serializers import PickleSerializer, Serializer, serializer_from_dict


@pytest.mark.parametrize(
    "serializer",
    [
        PickleSerializer(),
        PickleSerializer(picklelib="pickle"),
    ],
    ids=repr,
)
def test_every_configuration_is_json_and_rebuilds_exactly(serializer: Serializer) -> None:
    data = serializer.to_dict()
    text = json.dumps(data)
    rebuilt = serializer_from_dict(json.loads(text))
    assert rebuilt == serializer and rebuilt.to_dict() == data
    assert type(serializer).from_config(json.loads(json.dumps(serializer.config()))) == serializer
