"""Serialization: the base class of serializers, and the built-in compressed wrapper.

``base`` is the leaf that plugins subclass. Looking classes up by name lives in
:mod:`conveyor.serializers` (it needs the plugin registry).

May import: conveyor.exceptions, conveyor.markers; ``compressed`` also conveyor.serializers.
"""
