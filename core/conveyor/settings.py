"""Settings, read from the environment each time they are asked for.

| variable | meaning | default |
|---|---|---|
| ``CONVEYOR_HOME`` | folder of the metadata database | ``~/.conveyor`` |
| ``CONVEYOR_DATABASE_URL`` | which metadata database: ``postgresql://user:password@host/db`` (plugin ``conveyor-metadata-postgres``), ``sqlite:///abs/path.db`` or a path; its password is never printed | the SQLite file ``conveyor.db`` under ``CONVEYOR_HOME`` |
| ``CONVEYOR_RESULTS_DEFAULT_SERIALIZER`` | serializer used when none is configured | ``pickle`` |
| ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT`` | persist results no rule decided on | ``false`` |
| ``CONVEYOR_LOCAL_STORAGE_PATH`` | folder of the default result storage | ``.conveyor-results`` in the working directory |
| ``CONVEYOR_RESULTS_DEFAULT_STORAGE`` | slug of a saved block (``s3/prod``) used as result storage where none is configured, instead of that folder | none |
| ``CONVEYOR_DISABLE_PLUGINS`` | comma-separated entry-point names not to load | empty |
| ``CONVEYOR_LOGGING_LEVEL`` | level of conveyor's log lines | ``INFO`` |
| ``CONVEYOR_RESULTS_SIGNING_KEY`` | ``[key id:]secret`` that signs every result reference written | none |
| ``CONVEYOR_RESULTS_SIGNING_KEY_FILE`` | a file (``0600``) holding the signing key, then more verification keys, one a line | none |
| ``CONVEYOR_RESULTS_VERIFICATION_KEYS`` | comma-separated ``[key id:]secret`` also accepted when checking (rotated-out keys) | none |
| ``CONVEYOR_RESULTS_REQUIRE_SIGNATURES`` | refuse every result reference that is not signed by a known key | ``false`` |
| ``CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS`` | comma-separated import paths a stored serializer configuration may name | none |
| ``CONVEYOR_TASK_RUNNER`` | task runner of every flow without ``task_runner=``: ``<name>[:<argument>]`` (``thread-pool:8``, ``sequential``, ``dask``, ``dask:tcp://scheduler:8786``) | ``thread-pool`` |

They are never cached at import: a change of the environment between runs (tests, a
user's script setting ``CONVEYOR_HOME``) is seen by the next :func:`get_settings`. Parsing
is memoized per process on the raw values of these variables (plus ``HOME``, which a
default depends on; the working directory is read when the default storage path is
asked for), so asking again costs a few environment look-ups, not a parse.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from pathlib import Path
from typing import Any

from conveyor.exceptions import SettingsError
from conveyor.values import Value

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(
        f"{name}={raw!r} is not a boolean; use one of: {', '.join(_TRUE + _FALSE[:-1])}"
    )


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else default


def _optional_path(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _list(name: str) -> frozenset[str]:
    return frozenset(p.strip() for p in os.environ.get(name, "").split(",") if p.strip())


_FIELDS = (
    "home", "default_serializer", "persist_by_default", "local_storage_setting",
    "disabled_plugins", "logging_level", "require_signatures", "allowed_imports",
    "default_storage", "database_url",
)


class Settings(Value):
    """A snapshot of conveyor's settings (immutable; equal when every setting is).

    :ivar local_storage_setting: ``CONVEYOR_LOCAL_STORAGE_PATH`` when set; else None (see
        :attr:`local_storage_path`).
    :ivar default_storage: a saved block's slug used as the default result storage, or None
        (the local folder).
    :ivar database_url: ``CONVEYOR_DATABASE_URL`` as set (may hold a password: never in the
        repr), or "".
    """

    # a Value, not an attrs class: it is defined in every process's start-up
    __slots__ = _FIELDS
    _fields = _FIELDS
    _hidden = ("database_url",)  # it may hold a password
    _frozen_hint = "; change the environment"

    home: Path
    default_serializer: str
    persist_by_default: bool
    local_storage_setting: Path | None
    disabled_plugins: frozenset[str]
    logging_level: str
    require_signatures: bool
    allowed_imports: frozenset[str]
    default_storage: str | None
    database_url: str

    def __init__(self, home: Path, default_serializer: str, persist_by_default: bool,
                 local_storage_setting: Path | None, disabled_plugins: frozenset[str],
                 logging_level: str, require_signatures: bool = False,
                 allowed_imports: frozenset[str] = frozenset(), default_storage: str | None = None,
                 database_url: str = "") -> None:
        self._init(home, default_serializer, persist_by_default, local_storage_setting,
                   disabled_plugins, logging_level, require_signatures, allowed_imports,
                   default_storage, database_url)

    @property
    def database_path(self) -> Path:
        """The default metadata database: the SQLite file under ``CONVEYOR_HOME``."""
        return self.home / "conveyor.db"

    @property
    def database(self) -> str:
        """The metadata database to use: ``CONVEYOR_DATABASE_URL``, else :attr:`database_path`."""
        return self.database_url or str(self.database_path)

    @property
    def local_storage_path(self) -> Path:
        """The folder of the default result storage: the setting, else ``.conveyor-results``
        in the working directory as it is now."""
        found = self.local_storage_setting
        return found if found is not None else Path.cwd() / ".conveyor-results"


#: Every variable a setting is parsed from (``HOME``: the default of ``CONVEYOR_HOME``).
_VARIABLES = (
    "CONVEYOR_HOME",
    "CONVEYOR_RESULTS_DEFAULT_SERIALIZER",
    "CONVEYOR_RESULTS_PERSIST_BY_DEFAULT",
    "CONVEYOR_LOCAL_STORAGE_PATH",
    "CONVEYOR_DISABLE_PLUGINS",
    "CONVEYOR_LOGGING_LEVEL",
    "CONVEYOR_RESULTS_REQUIRE_SIGNATURES",
    "CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS",
    "CONVEYOR_RESULTS_DEFAULT_STORAGE",
    "CONVEYOR_DATABASE_URL",
    "HOME",
)
#: The same names as ``os.environ`` keys its raw mapping (bytes on POSIX).
_RAW_KEYS = tuple(map(os.environ.encodekey, _VARIABLES)) if hasattr(os.environ, "encodekey") else ()
_memo: tuple[tuple[Any, ...], Settings] | None = None


def get_settings() -> Settings:
    """Every setting, as the environment says now, validated.

    Memoized on the raw values of the variables: the same environment gives the same
    :class:`Settings` object without parsing again; any change (``CONVEYOR_HOME`` set, a
    variable removed) gives a fresh one.
    """
    global _memo
    environ = os.environ
    # The raw mapping behind os.environ (kept in step with it by os.environ itself) is
    # read directly: 11 lookups without decoding each value, a few times per run.
    raw = getattr(environ, "_data", None)
    stamp = tuple(map(raw.get, _RAW_KEYS)) if raw is not None and _RAW_KEYS else tuple(
        map(environ.get, _VARIABLES)
    )
    memo = _memo
    if memo is not None and memo[0] == stamp:
        return memo[1]
    settings = _read_settings()
    _memo = (stamp, settings)
    return settings


def _read_settings() -> Settings:
    """Read every setting from the environment, validating each."""
    serializer = os.environ.get("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "").strip() or "pickle"
    level = os.environ.get("CONVEYOR_LOGGING_LEVEL", "").strip().upper() or "INFO"
    if level not in _LEVELS:
        raise SettingsError(
            f"CONVEYOR_LOGGING_LEVEL={level!r} is not a logging level; "
            f"use one of: {', '.join(_LEVELS)}"
        )
    return Settings(
        home=_path("CONVEYOR_HOME", Path.home() / ".conveyor"),
        default_serializer=serializer,
        persist_by_default=_bool("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", False),
        local_storage_setting=_optional_path("CONVEYOR_LOCAL_STORAGE_PATH"),
        disabled_plugins=_list("CONVEYOR_DISABLE_PLUGINS"),
        logging_level=level,
        require_signatures=_bool("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", False),
        allowed_imports=_list("CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS"),
        default_storage=os.environ.get("CONVEYOR_RESULTS_DEFAULT_STORAGE", "").strip() or None,
        database_url=os.environ.get("CONVEYOR_DATABASE_URL", "").strip(),
    )


# -- result signing keys ------------------------------------------------------------------

#: Shortest secret accepted as a signing or verification key.
MIN_KEY_LENGTH = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SigningKey(Value):
    """One HMAC key: its id (recorded in each signature) and its secret (never shown)."""

    __slots__ = _fields = ("key_id", "secret")
    _hidden = ("secret",)

    key_id: str
    secret: bytes

    def __init__(self, key_id: str, secret: bytes) -> None:
        self._init(key_id, secret)


class SigningKeys(Value):
    """The keys of this process: the one that signs (or None) and every one that verifies."""

    __slots__ = _fields = ("signing", "verifying")

    signing: SigningKey | None
    verifying: tuple[SigningKey, ...]

    def __init__(self, signing: SigningKey | None = None, verifying: tuple[SigningKey, ...] = ()) -> None:
        self._init(signing, tuple(verifying))

    def find(self, key_id: str) -> SigningKey | None:
        for key in self.verifying:
            if key.key_id == key_id:
                return key
        return None

    @property
    def key_ids(self) -> list[str]:
        return [k.key_id for k in self.verifying]


def parse_key(text: str, source: str) -> SigningKey:
    """``"[key id:]secret"`` as a key; without an id, the id is derived from the secret."""
    raw = text.strip()
    key_id, sep, secret = raw.partition(":")
    if not sep or not _KEY_ID.match(key_id):
        key_id, secret = "", raw
    if len(secret) < MIN_KEY_LENGTH:
        raise SettingsError(
            f"{source} holds a key of {len(secret)} characters; a signing key needs at least "
            f"{MIN_KEY_LENGTH} (written '[key id:]secret'); {_KEY_HINT}"
        )
    if not key_id:
        key_id = "k-" + hmac.new(secret.encode(), b"conveyor key id", hashlib.sha256).hexdigest()[:12]
    return SigningKey(key_id, secret.encode())


def _key_file_lines(path: Path) -> list[str]:
    name = f"CONVEYOR_RESULTS_SIGNING_KEY_FILE={str(path)!r}"
    try:
        if os.stat(path).st_mode & 0o077:
            raise SettingsError(
                f"{name} may be read or written by other users; make it private with "
                f"chmod 600 {path}"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{name} cannot be read ({exc.strerror or exc})") from exc
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise SettingsError(f"{name} holds no key; put the signing key on its first line")
    return lines


def task_runner_setting() -> str:
    """``CONVEYOR_TASK_RUNNER`` alone, stripped ('' when unset; read once per flow run)."""
    return os.environ.get("CONVEYOR_TASK_RUNNER", "").strip()


def signatures_required() -> bool:
    """``CONVEYOR_RESULTS_REQUIRE_SIGNATURES`` alone (read at every reference read: cheap)."""
    return _bool("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", False)


_keys_lock = threading.Lock()
_keys_cache: dict[tuple[object, ...], SigningKeys] = {}


def get_signing_keys() -> SigningKeys:
    """The result signing keys set by the ``CONVEYOR_RESULTS_*KEY*`` variables.

    ``CONVEYOR_RESULTS_SIGNING_KEY`` (or the first line of ``..._SIGNING_KEY_FILE``) signs;
    it, the file's further lines and ``CONVEYOR_RESULTS_VERIFICATION_KEYS`` verify.
    """
    env = os.environ.get("CONVEYOR_RESULTS_SIGNING_KEY", "").strip()
    file_name = os.environ.get("CONVEYOR_RESULTS_SIGNING_KEY_FILE", "").strip()
    extra = os.environ.get("CONVEYOR_RESULTS_VERIFICATION_KEYS", "")
    if env and file_name:
        raise SettingsError(
            "both CONVEYOR_RESULTS_SIGNING_KEY and CONVEYOR_RESULTS_SIGNING_KEY_FILE are set; "
            "set only one of them"
        )
    path = Path(file_name).expanduser() if file_name else None
    try:
        stamp = os.stat(path) if path is not None else None
        fingerprint = (stamp.st_ino, stamp.st_mtime_ns, stamp.st_size, stamp.st_mode) if stamp else None
    except OSError:
        fingerprint = ("unreadable",)
    cache_key = (env, file_name, fingerprint, extra)
    with _keys_lock:
        found = _keys_cache.get(cache_key)
    if found is not None:
        return found
    signing: SigningKey | None = None
    verifying: list[SigningKey] = []
    if env:
        signing = parse_key(env, "CONVEYOR_RESULTS_SIGNING_KEY")
    elif path is not None:
        lines = _key_file_lines(path)
        source = f"CONVEYOR_RESULTS_SIGNING_KEY_FILE={str(path)!r}"
        signing = parse_key(lines[0], source)
        verifying.extend(parse_key(line, source) for line in lines[1:])
    verifying.extend(
        parse_key(part, "CONVEYOR_RESULTS_VERIFICATION_KEYS") for part in extra.split(",") if part.strip()
    )
    if signing is not None:
        verifying.insert(0, signing)
    seen: dict[str, SigningKey] = {}
    for key in verifying:
        other = seen.setdefault(key.key_id, key)
        if other.secret != key.secret:
            raise SettingsError(
                f"two different result signing keys have the id {key.key_id!r}; give each "
                f"key its own id ('id:secret')"
            )
    keys = SigningKeys(signing, tuple(seen.values()))
    with _keys_lock:
        if len(_keys_cache) > 32:
            _keys_cache.clear()
        _keys_cache[cache_key] = keys
    return keys
