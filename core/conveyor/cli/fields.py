"""The fields of ``conveyor blocks create``: ``--field value`` parsed against a block class.

A block's fields are its attrs fields, so ``create`` learns them from the block class
of the given type (any installed plugin's type works) and parses each ``--field value``
against the field's annotation.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

import attrs

from conveyor.exceptions import ConfigurationError
from conveyor.filesystems import SECRET

_PARAM = re.compile(r"^:(param|ivar)\s+(\w+):\s*(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@attrs.frozen
class FieldSpec:
    """One configurable field of a block class, as the CLI shows and parses it."""

    name: str
    required: bool
    secret: bool
    annotation: Any

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        notes = [n for n, on in (("required", self.required), ("secret", self.secret)) if on]
        return f"{self.option} ({', '.join(notes)})" if notes else self.option


def block_fields(cls: type) -> list[FieldSpec]:
    """The init fields of block class ``cls``, in declaration order."""
    if not attrs.has(cls):
        return []
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError, AttributeError):  # unresolvable annotation: parse as text
        hints = {}
    return [
        FieldSpec(
            name=f.name,
            required=f.default is attrs.NOTHING,
            secret=bool(f.metadata.get(SECRET)),
            annotation=hints.get(f.name, f.type),
        )
        for f in attrs.fields(cls)
        if f.init
    ]


def fields_listing(block_type: str, fields: Sequence[FieldSpec]) -> str:
    """One line listing the fields of ``block_type`` (for help and error messages)."""
    shown = ", ".join(f.describe() for f in fields) or "none"
    return f"fields of block type {block_type!r}: {shown}"


def _type_name(annotation: Any) -> str:
    """A field's annotation as people read it: ``str``, ``int | None``, ``list[str] (JSON)``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None) or annotation is None:
        return "None"
    if isinstance(annotation, str):
        return annotation
    text = getattr(annotation, "__name__", None) if origin is None else None
    text = text or str(annotation).replace("typing.", "")
    return f"{text} (JSON)" if (origin or annotation) in (dict, list, tuple) else text


def _docstring_descriptions(cls: type) -> dict[str, str]:
    """``:param name: text`` / ``:ivar name: text`` of ``cls``'s docstring (and its bases')."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) if klass.__doc__ else None
        name: str | None = None
        for line in (doc or "").splitlines():
            match = _PARAM.match(line)
            if match:
                name = match.group(2)
                found[name] = match.group(3).strip()
            elif name and line.startswith((" ", "\t")) and line.strip():
                found[name] += " " + line.strip()
            else:
                name = None
    for sentence in _SENTENCE.split(" ".join((inspect.getdoc(cls) or "").split())):
        for mentioned in re.findall(r"``(\w+)``", sentence):  # "Store results under ``basepath``."
            found.setdefault(mentioned, sentence.replace("``", "").rstrip("."))
    return found


def fields_help(block_type: str, cls: type) -> str:
    """What ``blocks create TYPE NAME --help`` prints: each field, its type, default and meaning."""
    fields = block_fields(cls)
    described = _docstring_descriptions(cls)
    by_name = {f.name: f for f in attrs.fields(cls)} if attrs.has(cls) else {}
    lines = [fields_listing(block_type, fields)]
    width = max((len(f.option) for f in fields), default=0)
    for spec in fields:
        notes = [_type_name(spec.annotation)]
        if spec.required:
            notes.append("required")
        if spec.secret:
            notes.append("secret: give '-' to read it from standard input")
        attribute = by_name.get(spec.name)
        default = getattr(attribute, "default", attrs.NOTHING)
        if not spec.required and not spec.secret:
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                shown = default.factory() if default.factory in (list, dict, tuple) else None  # type: ignore[attr-defined]
                if shown is not None:
                    notes.append(f"default {shown!r}")
            else:
                notes.append(f"default {default!r}")
        help_text = ""
        if attribute is not None:
            help_text = str(attribute.metadata.get("help") or attribute.metadata.get("description") or "")
        help_text = (help_text or described.get(spec.name, "")).replace("``", "")
        line = f"  {spec.option:<{width}}  {'; '.join(notes)}"
        lines.append(f"{line}. {help_text}" if help_text else line)
    return "\n".join(lines)


def _allowed(annotation: Any) -> tuple[set[Any], bool]:
    """The plain types an annotation allows, and whether it allows None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = set(typing.get_args(annotation))
    else:
        members = {annotation}
    nullable = type(None) in members or annotation is None
    plain = {typing.get_origin(m) or m for m in members if m is not type(None)}
    return plain, nullable


def parse_value(spec: FieldSpec, raw: str, block_type: str) -> Any:
    """Turn the text given for ``spec`` into the value the field expects."""
    plain, nullable = _allowed(spec.annotation)
    if nullable and raw.lower() in ("none", "null") and str not in plain:
        return None
    try:
        if plain == {bool}:
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"use one of {', '.join(_TRUE + _FALSE)}")
        if plain == {int}:
            return int(raw)
        if plain <= {int, float} and plain:
            return float(raw)
        if plain & {dict, list, tuple}:
            return json.loads(raw)
    except ValueError as exc:
        message = f"block type {block_type!r}: {spec.option} {raw!r} is not valid: {exc}"
        raise ConfigurationError(message) from None
    return raw


def parse_field_args(block_type: str, cls: type, tokens: Sequence[str]) -> dict[str, Any]:
    """Parse ``--field value`` / ``--field=value`` tokens into the block's configuration.

    A value ``-`` reads it from the first line of standard input (keeps a secret out of
    the shell's history).
    """
    fields = block_fields(cls)
    by_option = {f.option: f for f in fields}
    by_option.update({"--" + f.name: f for f in fields})
    values: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            message = (
                f"unexpected argument {token!r} for block type {block_type!r}; give fields as "
                f"--field value ({fields_listing(block_type, fields)})"
            )
            raise ConfigurationError(message)
        option, eq, raw = token.partition("=")
        spec = by_option.get(option)
        if spec is None:
            listing = fields_listing(block_type, fields)
            message = f"block type {block_type!r} has no field {option}; {listing}"
            raise ConfigurationError(message)
        if not eq:
            if i + 1 >= len(tokens):
                raise ConfigurationError(f"block type {block_type!r}: {option} needs a value")
            i += 1
            raw = tokens[i]
        if raw == "-":
            raw = sys.stdin.readline().rstrip("\r\n")
        values[spec.name] = parse_value(spec, raw, block_type)
        i += 1
    missing = [f.option for f in fields if f.required and f.name not in values]
    if missing:
        message = (
            f"block type {block_type!r} needs {', '.join(missing)}; "
            f"{fields_listing(block_type, fields)}"
        )
        raise ConfigurationError(message)
    return values


__all__ = [
    "FieldSpec",
    "block_fields",
    "fields_help",
    "fields_listing",
    "parse_field_args",
    "parse_value",
]
