"""Signed result references: an HMAC over everything a reader trusts a reference for.

With a signing key set (``CONVEYOR_RESULTS_SIGNING_KEY`` or ``..._SIGNING_KEY_FILE``, see
:func:`conveyor.settings.get_signing_keys`), every reference written carries::

    signature = "v1:<key id>:<hex HMAC-SHA256>"

over the canonical JSON of its ``key``, ``storage``, ``storage_document``, ``serializer``
configuration, ``checksum``, ``size`` and, from format 2 on, its ``format`` (a
reference of format 1, written before the field existed, has none: its signature covers
the six others, exactly as when it was made; removing a ``format`` from a signed
reference changes what is signed, so it is refused). The checksum covers the payload,
so a valid signature vouches for the exact bytes that will be deserialized and for how.

A reader checks it (:func:`check_signature`) before it touches storage or any
deserializer: a signature that does not match, or names a key this process does not
have, is a :class:`~conveyor.exceptions.SignatureError`. An unsigned reference is refused
when ``CONVEYOR_RESULTS_REQUIRE_SIGNATURES`` is on, and read as before otherwise (older
references have no signature). Key ids let keys rotate: sign with the new key, keep the
old ones in ``CONVEYOR_RESULTS_VERIFICATION_KEYS`` while references signed with them are
still read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from conveyor.exceptions import SignatureError
from conveyor.settings import SigningKey, get_signing_keys, signatures_required

SIGNATURE_VERSION = "v1"
#: What the signature covers, in this order (every field of a reference but its type).
SIGNED_FIELDS = ("key", "storage", "storage_document", "serializer", "checksum", "size")
#: Signed too whenever present (absent in references of format 1).
OPTIONAL_SIGNED_FIELDS = ("format",)
#: The format a reference without a ``format`` field has (the framed layout).
_IMPLICIT_FORMAT = 1
_DOMAIN = b"conveyor result reference v1\n"


def _message(fields: dict[str, Any]) -> bytes:
    body = {name: fields[name] for name in SIGNED_FIELDS}
    for name in OPTIONAL_SIGNED_FIELDS:
        if name in fields and not (name == "format" and fields[name] == _IMPLICIT_FORMAT):
            body[name] = fields[name]
    return _DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _mac(key: SigningKey, fields: dict[str, Any]) -> str:
    return hmac.new(key.secret, _message(fields), hashlib.sha256).hexdigest()


def sign_fields(fields: dict[str, Any]) -> str | None:
    """The signature of a reference's fields with this process's signing key, or None."""
    key = get_signing_keys().signing
    if key is None:
        return None
    return f"{SIGNATURE_VERSION}:{key.key_id}:{_mac(key, fields)}"


def check_signature(fields: dict[str, Any], signature: str | None, where: str) -> None:
    """Refuse (SignatureError) a reference that is unsigned where signatures are required,
    or whose signature does not match its fields. ``where`` names it in the message."""
    required = signatures_required()
    if signature is None:
        if required:
            raise SignatureError(
                f"{where} is not signed, and CONVEYOR_RESULTS_REQUIRE_SIGNATURES is on, so it "
                f"is not read; it was written without a signing key, or its record was altered "
                f"(write it again with CONVEYOR_RESULTS_SIGNING_KEY set)"
            )
        return
    keys = get_signing_keys()
    if not keys.verifying:
        if required:
            raise SignatureError(
                f"{where} is signed, but CONVEYOR_RESULTS_REQUIRE_SIGNATURES is on and this "
                f"process has no key to check it with; set CONVEYOR_RESULTS_SIGNING_KEY (or "
                f"..._SIGNING_KEY_FILE, or CONVEYOR_RESULTS_VERIFICATION_KEYS)"
            )
        return
    parts = signature.split(":") if isinstance(signature, str) else []
    if len(parts) != 3 or parts[0] != SIGNATURE_VERSION:
        raise SignatureError(
            f"{where} has a malformed signature {str(signature)[:40]!r} (expected "
            f"'{SIGNATURE_VERSION}:<key id>:<hmac>'); its record was altered: it is not read"
        )
    _version, key_id, mac = parts
    key = keys.find(key_id)
    if key is None:
        raise SignatureError(
            f"{where} is signed with key {key_id!r}, which is not among this process's keys "
            f"({', '.join(keys.key_ids)}); it is not read: if that key is yours, add it to "
            f"CONVEYOR_RESULTS_VERIFICATION_KEYS, otherwise the record was forged"
        )
    if not hmac.compare_digest(mac, _mac(key, fields)):
        raise SignatureError(
            f"{where} does not match its signature (key {key_id!r}): its storage, key, "
            f"serializer, checksum or format was altered after it was written; it is not read"
        )


__all__ = ["OPTIONAL_SIGNED_FIELDS", "SIGNATURE_VERSION", "SIGNED_FIELDS", "check_signature", "sign_fields"]
