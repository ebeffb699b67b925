"""Task runners: the base class and the built-in thread pool and sequential runners.

``base`` is the leaf that plugins subclass; ``hooks`` is the built-in plugin that
registers the two built-in runners. Choosing a runner (the ``task_runner`` option, the
``CONVEYOR_TASK_RUNNER`` setting, plugin classes by name) lives in
:mod:`conveyor.task_runners` (it needs the plugin registry).

May import: conveyor.markers (``hooks``); ``base`` imports only its sibling ``pool``, which
imports nothing of conveyor.
"""
