"""Where and how a run's result goes: the one place that answers it.

A :class:`ResultDestination` is a storage block, the identity a reference records for it
(its saved slug, or ``anonymous/<block document id>``) and a serializer. A flow run owns
one :class:`Destinations`, which resolves the options once for the flow run: the flow's
own ``result_storage``/``result_serializer``, else its parent flow's (already resolved),
else the defaults (``CONVEYOR_RESULTS_DEFAULT_STORAGE``, a saved block's slug, else the
folder ``CONVEYOR_LOCAL_STORAGE_PATH``; ``CONVEYOR_RESULTS_DEFAULT_SERIALIZER``);
a task's own options override either half. Each distinct destination is built once per
flow run and records its block document once; the engine asks it, nothing else
re-resolves.

May import: conveyor.blocks, conveyor.exceptions, conveyor.filesystems, conveyor.metadata,
conveyor.results, conveyor.serializers, conveyor.settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.blocks import record_block, saved_slugs
from conveyor.exceptions import ConfigurationError, ConveyorError
from conveyor.filesystems import StorageBlock, check_default_storage, default_storage, resolve_storage
from conveyor.metadata import get_store
from conveyor.results.storage import ANONYMOUS_PREFIX
from conveyor.results.types import ResultReference
from conveyor.results.write import persist_value, written_reference
from conveyor.serializers import Serializer, check_default_serializer, default_serializer, resolve_serializer
from conveyor.settings import get_settings

if TYPE_CHECKING:
    from conveyor.flows import Flow

StoragePair = tuple[StorageBlock, "str | None"]

DEFAULT_ORIGIN = "the default serializer, CONVEYOR_RESULTS_DEFAULT_SERIALIZER"


def named_error(kind: str, name: str, option: str, value: Any, exc: Exception) -> Exception:
    """``exc`` again (same type), its message saying which run and which option."""
    message = f"{kind} {name!r}: {option}={value!r}: {exc}"
    try:
        return type(exc)(message)
    except Exception:  # noqa: BLE001 - an exception type with another constructor
        return ConfigurationError(message)


class ResultDestination:
    """One storage block (with the identity references record) and one serializer."""

    __slots__ = ("_document", "_store", "serializer", "serializer_origin", "slug", "storage")

    def __init__(
        self,
        storage: StorageBlock,
        serializer: Serializer,
        slug: str | None = None,
        serializer_origin: str = "the default serializer",
    ) -> None:
        self.storage = storage
        self.serializer = serializer
        #: the saved slug the block was given by, or None for an instance
        self.slug = slug
        #: where the serializer was chosen, for messages ("result_serializer='json' on task 'x'")
        self.serializer_origin = serializer_origin
        self._document: str | None = None
        self._store: Any = None

    def _metadata(self) -> Any:
        """The metadata store, looked up once (a destination lives for one flow run)."""
        if self._store is None:
            self._store = get_store()
        return self._store

    def document(self) -> str:
        """The block's document id in the metadata store, recorded on first use."""
        if self._document is None:
            self._document = record_block(self.storage)
        return self._document

    @property
    def label(self) -> str:
        """How a reference names the storage: the slug, else ``anonymous/<document id>``."""
        return self.slug or f"{ANONYMOUS_PREFIX}{self.document()}"

    def persist(self, value: Any, key: str | None = None, serializer: Serializer | None = None,
                run_id: str | None = None) -> ResultReference:
        """Write ``value`` here (at ``key``, default a fresh one); return its reference.

        With a ``key``, the write is first recorded as an intent in the metadata store, so
        a process killed before the reference is recorded leaves nothing unnamed; the
        caller queues :meth:`written` once it has queued the reference.
        """
        if key is not None:
            self.record_intent(key, run_id)
        return persist_value(
            value,
            storage=self.storage,
            serializer=serializer or self.serializer,
            key=key,
            storage_slug=self.slug,
            storage_document=self.document(),
        )

    def record_intent(self, key: str, run_id: str | None) -> None:
        """Commit, now, that ``key`` is about to be written here (by this process or a worker).

        The rows queued before it (the writing run's own) are committed first, so an intent
        a killed process leaves behind always names a recorded run (``results gc`` says whose).
        """
        self._metadata().record_write_intent(self.document(), key, run_id)

    def reference_to(self, key: str, checksum: str, size: int) -> ResultReference:
        """The reference of a value a remote worker wrote at ``key`` with this serializer."""
        return written_reference(key, self.label, self.document(), self.serializer, checksum, size)

    def written(self, key: str) -> None:
        """The reference of a write recorded as an intent is queued: the intent can go
        (the two are committed together)."""
        self._metadata().writer.forget_write_intent(self.document(), key)

    def describe(self, key: str) -> str:
        """Where ``key`` lives, for people (a file path, ``s3://...``)."""
        return self.storage.describe(key)

    def __repr__(self) -> str:
        return f"ResultDestination({self.slug or self.storage!r}, {self.serializer!r})"


def _storage_option(value: Any) -> StoragePair:
    """A ``result_storage`` option as (block, slug).

    A block instance whose configuration is saved (``S3.load("prod")``, or a block
    equal to a saved one) is recorded by its slug; an unsaved one has no slug.
    """
    block = resolve_storage(value)
    if isinstance(value, str):
        return block, value
    slugs = saved_slugs(block)
    return block, slugs[0] if slugs else None


class Destinations:
    """The result destinations of one flow run (or of one task run outside any flow).

    :param flow: the flow whose run this is (None: a task called outside any flow).
    :param parent: the enclosing flow run's destinations, for a subflow.
    """

    __slots__ = (
        "_built",
        "_flow",
        "_origin",
        "_resolved",
        "_serializer",
        "_storage",
        "flow",
        "parent",
    )

    def __init__(self, flow: Flow[Any] | None = None, parent: Destinations | None = None) -> None:
        self.flow = flow
        self.parent = parent
        self._storage: StoragePair | None = None
        self._serializer: Serializer | None = None
        self._origin = ""
        self._flow: ResultDestination | None = None
        self._resolved: dict[Any, Any] = {}
        self._built: dict[tuple[int, int, str], tuple[StorageBlock, Serializer, ResultDestination]] = {}

    # The flow run's own halves, inherited by its tasks and subflows --------------------

    def storage(self) -> StoragePair:
        """(block, slug or None): the flow's own result_storage, else inherited, else default."""
        if self._storage is None:
            own = self.flow.result_storage if self.flow is not None else None
            if own is not None:
                self._storage = self.resolve_storage(own)
            elif self.parent is not None:
                self._storage = self.parent.storage()
            else:
                slug = get_settings().default_storage
                if slug is None:
                    self._storage = (default_storage(), None)
                else:
                    try:
                        self._storage = self.resolve_storage(slug)
                    except (ConveyorError, TypeError) as exc:
                        raise ConfigurationError(
                            f"CONVEYOR_RESULTS_DEFAULT_STORAGE={slug!r}: {exc}"
                        ) from exc
        return self._storage

    def serializer(self) -> Serializer:
        """The flow's own result_serializer, else inherited, else the default."""
        if self._serializer is None:
            own = self.flow.result_serializer if self.flow is not None else None
            if own is not None:
                self._serializer = self.resolve_serializer(own)
                self._origin = f"result_serializer={own!r} of flow {self.flow.name!r}"  # type: ignore[union-attr]
            elif self.parent is not None:
                self._serializer = self.parent.serializer()
                self._origin = self.parent.serializer_origin()
            else:
                self._serializer = default_serializer()
                self._origin = f"{DEFAULT_ORIGIN}={get_settings().default_serializer!r}"
        return self._serializer

    def serializer_origin(self) -> str:
        """Where :meth:`serializer` was chosen: the flow's option, an enclosing flow's, the default."""
        self.serializer()
        return self._origin

    # Destinations ----------------------------------------------------------------------

    def for_flow(self) -> ResultDestination:
        """Where the flow run's own result goes."""
        if self._flow is None:
            self._flow = self._destination(self.storage(), self.serializer(), self.serializer_origin())
        return self._flow

    def for_task(self, task_name: str, result_storage: Any, result_serializer: Any) -> ResultDestination:
        """Where a task run's result goes, given the task's own two options (None: inherit)."""
        if result_storage is None and result_serializer is None:
            return self.for_flow()
        storage = self.resolve_storage(result_storage) if result_storage is not None else self.storage()
        if result_serializer is not None:
            serializer = self.resolve_serializer(result_serializer)
            origin = f"result_serializer={result_serializer!r} of task {task_name!r}"
        else:
            serializer = self.serializer()
            origin = self.serializer_origin()
        return self._destination(storage, serializer, origin)

    def check(self, kind: str, name: str, result_storage: Any, result_serializer: Any) -> None:
        """Resolve a run's own options now, so a mistake is reported before any work is done.

        An unknown serializer or block slug, or a block type whose plugin is missing, is
        a :class:`~conveyor.exceptions.ConfigurationError` naming the run and the option.
        """
        for option, value, resolve in (
            ("result_storage", result_storage, self.resolve_storage),
            ("result_serializer", result_serializer, self.resolve_serializer),
        ):
            if value is None:
                continue
            try:
                resolve(value)
            except (ConveyorError, TypeError) as exc:
                raise named_error(kind, name, option, value, exc) from exc

    def check_defaults(self) -> None:
        """Refuse now what this flow run would take by default and cannot have, without
        building it: a saved default storage (``CONVEYOR_RESULTS_DEFAULT_STORAGE``) is
        loaded now; the local folder block and the default serializer are looked up by
        name, and built (their modules imported) only when a result is first written.
        A subflow inherits its parent's, checked already."""
        if self.parent is not None:
            return
        flow = self.flow
        if flow is None or flow.result_storage is None:
            if get_settings().default_storage is not None:
                self.storage()
            else:
                check_default_storage()
        if flow is None or flow.result_serializer is None:
            check_default_serializer()

    def _destination(self, storage: StoragePair, serializer: Serializer, origin: str) -> ResultDestination:
        block, slug = storage
        key = (id(block), id(serializer), origin)
        built = self._built.get(key)
        if built is None:
            # the block and serializer are kept alive with it, so their ids stay theirs
            destination = ResultDestination(block, serializer, slug, origin)
            built = self._built[key] = (block, serializer, destination)
        return built[2]

    # Option values, resolved once per flow run -----------------------------------------

    def resolve_storage(self, value: Any) -> StoragePair:
        """A ``result_storage`` value as (block, slug), resolved once per flow run."""
        try:
            return self._resolved[("storage", value)]  # type: ignore[no-any-return]
        except TypeError:  # unhashable block
            return _storage_option(value)
        except KeyError:
            resolved = self._resolved[("storage", value)] = _storage_option(value)
            return resolved  # type: ignore[no-any-return]

    def resolve_serializer(self, value: Any) -> Serializer:
        """A ``result_serializer`` value as an instance, resolved once per flow run."""
        try:
            return self._resolved[("serializer", value)]  # type: ignore[no-any-return]
        except TypeError:
            return resolve_serializer(value)
        except KeyError:
            resolved = self._resolved[("serializer", value)] = resolve_serializer(value)
            return resolved


__all__ = ["Destinations", "ResultDestination", "named_error"]
