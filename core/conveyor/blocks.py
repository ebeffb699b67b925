"""Saved blocks: storage configurations kept in the metadata database under a slug.

A slug is ``"<block_type>/<name>"``, e.g. ``"s3/prod"`` or ``"local-file-system/scratch"``.

Every configuration, saved or not, is one *block document* in the metadata database (its
id is a hash of type and configuration, so equal configurations share one document). A
saved name points at a document; an unsaved block used as storage is recorded with
:func:`record_block`, once per distinct configuration, and rebuilt with
:func:`block_from_document`.

May import: conveyor.exceptions, conveyor.filesystems, conveyor.metadata, conveyor.storage,
conveyor.values.
"""

from __future__ import annotations

from typing import Any, Literal

from conveyor.exceptions import UnknownNameError
from conveyor.filesystems import StorageBlock, block_from_dict, get_storage_class, load_block
from conveyor.metadata import document_id, get_store
from conveyor.storage.saved import check_name, parse_slug, save_block
from conveyor.values import Value


class SavedBlock(Value):
    """One saved block as a listing shows it: never a secret.

    :ivar slug: ``"<block_type>/<name>"``.
    :ivar config: the public configuration (secrets shown as ``'********'``), or None when
        it cannot be shown (see ``problem``).
    :ivar fields: the names of the stored fields.
    :ivar status: ``"ok"``; ``"unavailable"`` (the block type's plugin is missing or
        disabled: only the plugin knows which fields are secret, so no value is shown);
        ``"damaged"`` (the stored row cannot be read back as a configuration).
    :ivar problem: one line saying why the configuration is not shown, or None.
    """

    # a Value, not an attrs class: this module is imported by every flow run (the engine
    # records blocks), listings alone build these
    __slots__ = _fields = ("slug", "config", "fields", "status", "problem")

    slug: str
    config: dict[str, Any] | None
    fields: tuple[str, ...]
    status: Literal["ok", "unavailable", "damaged"]
    problem: str | None

    def __init__(self, slug: str, config: dict[str, Any] | None, fields: tuple[str, ...] = (),
                 status: Literal["ok", "unavailable", "damaged"] = "ok",
                 problem: str | None = None) -> None:
        self._init(slug, config, fields, status, problem)

    __hash__ = None  # type: ignore[assignment] - its config is a dict


def saved_blocks(block_type: str | None = None) -> list[SavedBlock]:
    """Every saved block (of ``block_type`` when given), sorted; one bad row is one finding."""
    out = []
    for btype, name, config in get_store().list_blocks(block_type):
        slug = f"{btype}/{name}"
        if config is None:
            out.append(SavedBlock(slug, None, (), "damaged", (
                f"its stored configuration is damaged (not a JSON object); save it again with "
                f"overwrite, or remove it with `conveyor blocks rm {slug}`"
            )))
            continue
        fields = tuple(config)
        try:
            cls = get_storage_class(btype)
        except UnknownNameError as exc:
            out.append(SavedBlock(slug, None, fields, "unavailable", (
                f"values not shown, since only the block type's plugin knows which fields are "
                f"secret: {exc}"
            )))
            continue
        try:
            shown = cls.from_config(config).public_config()
        except Exception as exc:  # noqa: BLE001 - a stale or damaged configuration is a finding
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            out.append(SavedBlock(slug, None, fields, "damaged", (
                f"its stored configuration no longer makes a {cls.__name__}: {message}"
            )))
            continue
        out.append(SavedBlock(slug, shown, fields))
    return out


def list_blocks(block_type: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``[(slug, public configuration)]`` of saved blocks; secrets masked.

    A block whose configuration cannot be shown (its plugin is missing, or its row is
    damaged) comes with an empty dict; :func:`saved_blocks` says why.
    """
    return [(b.slug, b.config if b.config is not None else {}) for b in saved_blocks(block_type)]


def delete_block(slug: str) -> None:
    """Remove the saved name ``slug`` (the block document stays for references that use it)."""
    block_type, name = parse_slug(slug)
    if not get_store().delete_block(block_type, name):
        raise UnknownNameError(f"no saved block {slug!r}; `conveyor blocks ls` lists them")


def record_block(block: StorageBlock) -> str:
    """Record ``block``'s configuration as a block document; return the document id.

    Equal configurations get the same id and are stored once, however often they are
    recorded (one per distinct configuration, not one per run).
    """
    return get_store().put_block_document(block.block_type, block.config())


def block_from_document(doc_id: str) -> StorageBlock:
    """Rebuild the block recorded as document ``doc_id`` (by :func:`record_block` or a save)."""
    block_type, config = get_store().get_block_document(doc_id)
    return block_from_dict({"block_type": block_type, **config})


def saved_slugs(block: StorageBlock) -> list[str]:
    """The slugs under which exactly this configuration is saved (sorted; may be empty)."""
    doc_id = document_id(block.block_type, block.config())
    return [f"{t}/{n}" for t, n in get_store().saved_block_names(doc_id)]


__all__ = [
    "SavedBlock",
    "block_from_document",
    "check_name",
    "delete_block",
    "list_blocks",
    "load_block",
    "parse_slug",
    "record_block",
    "save_block",
    "saved_blocks",
    "saved_slugs",
]
