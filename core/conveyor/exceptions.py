"""Every error conveyor raises on purpose.

Messages are built first, then raised; each one says what was wrong, where, and what
to do about it.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Base class of conveyor's own errors."""


class ConfigurationError(ConveyorError, ValueError):
    """A setting, option or combination of options that cannot work."""


class SettingsError(ConfigurationError):
    """An environment variable holds a value conveyor does not accept."""


class UnknownNameError(ConveyorError, LookupError):
    """A serializer type, block type, saved block or run that does not exist."""


class PluginError(ConveyorError):
    """A plugin is broken or conflicts with another one."""


class PluginLoadError(PluginError):
    """A plugin's entry point could not be loaded or registered."""


class DuplicatePluginError(PluginError):
    """Two plugins provide the same serializer type or block type."""


class SerializationError(ConveyorError):
    """A value could not be turned into bytes, or bytes back into a value."""


class StorageError(ConveyorError):
    """A storage block could not read or write a key."""


class InvalidKeyError(StorageError, ValueError):
    """A key is absolute, empty or climbs out of its storage's base path."""


class ResultNotFoundError(StorageError, FileNotFoundError):
    """No stored result exists at a key."""


class CorruptResultError(StorageError):
    """A stored result's bytes do not match the checksum recorded when it was written."""


class MissingResult(ConveyorError):
    """A result was never persisted and is not available in this process."""


class ResultDeletedError(MissingResult):
    """A persisted result was deleted on purpose (by ``conveyor results gc`` or ``runs rm
    --results``); its reference is still recorded."""


class BlockExistsError(ConveyorError, FileExistsError):
    """A block is being saved under a name that is already taken."""


class MetadataError(ConveyorError):
    """The metadata database cannot be opened, read or written (the message names the file)."""


class DatabaseLockedError(MetadataError):
    """Another process held the metadata database's write lock for longer than the busy timeout."""


class SignatureError(ConveyorError):
    """A result reference is unsigned where signatures are required, or its signature is wrong."""
