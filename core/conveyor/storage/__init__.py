"""Result storage: the base class of storage blocks, and saved blocks by name.

``base`` is the leaf that plugins subclass; ``saved`` keeps named configurations in the
metadata database. Looking classes up by block type lives in :mod:`conveyor.filesystems`
(it needs the plugin registry); slugs in :mod:`conveyor.blocks`.

May import: conveyor.exceptions, conveyor.metadata.
"""
