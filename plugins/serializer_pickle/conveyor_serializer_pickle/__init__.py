"""Pickle serializer for conveyor results, on cloudpickle by default."""

from conveyor_serializer_pickle.pickle_serializer import PickleSerializer

__all__ = ["PickleSerializer"]
