"""Hook implementations of conveyor-serializer-pickle."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_serializer_pickle.pickle_serializer import PickleSerializer


@hookimpl
def conveyor_register_serializers():
    return [PickleSerializer]
