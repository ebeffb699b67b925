"""Signed result references and records that may not choose code (issue 12, point 3).

With a key set, every reference carries an HMAC over its storage, key, serializer
configuration and checksum; a reader refuses an unsigned (when required) or mis-signed
reference before it touches storage or a deserializer. Serializer configurations read
from records may only name allowed imports. ``read_result_file`` needs the checksum.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import pytest
from conveyor import flow, task
from conveyor import serializers as serializers_module
from conveyor.cli import main
from conveyor.client import get_client
from conveyor.exceptions import ConfigurationError, SettingsError, SignatureError
from conveyor.filesystems import LocalFileSystem
from conveyor.results import persist_value, read_result_file, result_from_dict, verify
from conveyor.results import read as read_module
from conveyor.results import storage as storage_module
from conveyor.serializers import (
    JSONSerializer,
    PickleSerializer,
    allow_imports,
    serializer_from_dict,
)
from conveyor.settings import get_signing_keys

KEY_A = "2024:" + "a" * 32
KEY_B = "2025:" + "b" * 32
MARK = "CONVEYOR_TEST_SIGNING_PWNED"


class _Exploit:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (f"import os; os.environ[{MARK!r}] = '1'",))


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for var in (
        "CONVEYOR_RESULTS_SIGNING_KEY", "CONVEYOR_RESULTS_SIGNING_KEY_FILE",
        "CONVEYOR_RESULTS_VERIFICATION_KEYS", "CONVEYOR_RESULTS_REQUIRE_SIGNATURES",
        "CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS", MARK,
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(serializers_module, "_allowed", set())


@pytest.fixture
def storage(tmp_path: Path, conveyor_home: Path) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(tmp_path / "store"))


def record(ref: Any) -> dict[str, Any]:
    return json.loads(ref.json())


def read(data: dict[str, Any]) -> Any:
    return result_from_dict(data).get()


def no_storage_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any storage or serializer use fail the test loudly."""

    def forbidden(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("storage or a serializer was touched before the signature was checked")

    # where ResultReference takes them from when it reads (imported there on first read)
    monkeypatch.setattr(storage_module, "resolve_reference_storage", forbidden)
    monkeypatch.setattr(read_module, "read_result", forbidden)
    monkeypatch.setattr(LocalFileSystem, "open_read", forbidden)


SERIALIZERS = [PickleSerializer(picklelib="pickle"), JSONSerializer()]


@pytest.mark.parametrize("serializer", SERIALIZERS, ids=["pickle", "json"])
def test_signed_references_round_trip(storage, monkeypatch, serializer):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "true")
    ref = persist_value({"rows": [1, 2]}, storage=storage, serializer=serializer)
    data = record(ref)
    assert data["signature"].startswith("v1:2024:")
    assert read(data) == {"rows": [1, 2]}
    assert verify(data).ok


@pytest.mark.parametrize("serializer", SERIALIZERS, ids=["pickle", "json"])
@pytest.mark.parametrize(
    "field, forged",
    [
        ("checksum", "sha256:" + "1" * 64),
        ("key", "another-key"),
        ("storage", "local-file-system/elsewhere"),
        ("storage_document", "0" * 32),
        ("size", 7),
        ("serializer", {"type": "json", "jsonlib": "json", "object_encoder": None,
                        "object_decoder": "os:system"}),
    ],
)
def test_a_tampered_reference_is_refused_before_storage_is_touched(
    storage, monkeypatch, serializer, field, forged
):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    ref = persist_value({"rows": [1, 2]}, storage=storage, serializer=serializer)
    data = {**record(ref), field: forged}
    no_storage_touched(monkeypatch)
    with pytest.raises(SignatureError) as info:
        read(data)
    message = str(info.value)
    assert "\n" not in message and "does not match its signature" in message
    assert "2024" in message
    outcome = verify(data)
    assert outcome.status == "untrusted" and not outcome.ok


def test_the_attack_of_the_probe_is_refused(storage, monkeypatch):
    """Storage and database both written by an attacker: a new pickle at the key, and the
    record's checksum and size changed to match it. Without the key, no valid signature."""
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    serializer = PickleSerializer(picklelib="pickle")
    ref = persist_value("honest value", storage=storage, serializer=serializer, key="k")
    evil = persist_value("placeholder", storage=LocalFileSystem(basepath=str(storage.basepath) + "-x"),
                         serializer=serializer, key="k")
    path = Path(storage.basepath) / "k"
    raw = path.read_bytes()
    header_end = 13 + struct.unpack(">I", raw[9:13])[0]
    payload = pickle.dumps(_Exploit(), protocol=5)
    import hashlib

    digest = hashlib.sha256(payload).digest()
    path.write_bytes(raw[:header_end] + payload + struct.pack(">Q32s8s", len(payload), digest, b"CVYEND\0\0"))
    forged = {**record(ref), "checksum": "sha256:" + digest.hex(), "size": len(payload)}
    with pytest.raises(SignatureError):
        read(forged)
    assert MARK not in os.environ
    assert evil.signature != ref.signature  # each reference has its own


def test_unsigned_references_are_read_unless_signatures_are_required(storage, monkeypatch):
    old = record(persist_value([1], storage=storage, serializer=PickleSerializer()))  # no key
    assert "signature" not in old
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    assert read(old) == [1]  # old references stay readable
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "1")
    no_storage_touched(monkeypatch)
    with pytest.raises(SignatureError, match="is not signed, and CONVEYOR_RESULTS_REQUIRE_SIGNATURES is on"):
        read(old)
    assert verify(old).status == "untrusted"


def test_required_signatures_without_any_key_refuse(storage, monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    signed = record(persist_value([1], storage=storage, serializer=PickleSerializer()))
    monkeypatch.delenv("CONVEYOR_RESULTS_SIGNING_KEY")
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "on")
    with pytest.raises(SignatureError, match="no key to check it with"):
        read(signed)


def test_key_rotation(storage, monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "true")
    old = record(persist_value("old", storage=storage, serializer=PickleSerializer()))
    # Rotate: sign with B from now on, keep A for checking what it signed.
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_B)
    monkeypatch.setenv("CONVEYOR_RESULTS_VERIFICATION_KEYS", KEY_A)
    new = record(persist_value("new", storage=storage, serializer=PickleSerializer()))
    assert old["signature"].split(":")[1] == "2024" and new["signature"].split(":")[1] == "2025"
    assert read(old) == "old" and read(new) == "new"
    # A retired: what it signed is refused, naming the key.
    monkeypatch.delenv("CONVEYOR_RESULTS_VERIFICATION_KEYS")
    with pytest.raises(SignatureError, match="signed with key '2024', which is not among"):
        read(old)
    assert read(new) == "new"


def test_the_format_is_signed_and_old_references_without_it_still_verify(storage, monkeypatch):
    """A new reference's signature covers its ``format``; removing or changing the field is
    refused. A reference of format 1 (no field), signed by the old code over six fields, is
    still read: its signature is checked over exactly those."""
    import hashlib
    import hmac

    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    data = record(persist_value({"v": 1}, storage=storage, serializer=JSONSerializer()))
    assert data["format"] == 2
    assert read(data) == {"v": 1}
    for forged in ({k: v for k, v in data.items() if k != "format"}, {**data, "format": 1}):
        with pytest.raises(SignatureError, match="does not match its signature"):
            read(forged)
    # An old-format result, signed as the old code signed it (six fields, no format).
    payload = JSONSerializer().dumps({"old": True})
    header = json.dumps({"serializer": JSONSerializer().to_dict()}).encode()
    digest = hashlib.sha256(payload).digest()
    blob = (struct.pack(">8sBI", b"CONVEYOR", 1, len(header)) + header + payload
            + struct.pack(">Q32s8s", len(payload), digest, b"CVYEND\0\0"))
    (Path(storage.basepath) / "old").write_bytes(blob)
    old = {k: data[k] for k in ("storage", "storage_document", "serializer")}
    old.update(key="old", checksum="sha256:" + digest.hex(), size=len(payload))
    body = {name: old[name] for name in ("key", "storage", "storage_document", "serializer", "checksum", "size")}
    message = b"conveyor result reference v1\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    mac = hmac.new(("a" * 32).encode(), message, hashlib.sha256).hexdigest()
    signed_old = {"type": "reference", **old, "signature": f"v1:2024:{mac}"}
    assert result_from_dict(signed_old).format == 1
    assert read(signed_old) == {"old": True}
    with pytest.raises(SignatureError, match="does not match its signature"):
        read({**signed_old, "format": 2})  # claiming the new format is not what was signed


def test_a_key_of_the_same_id_but_another_secret_is_a_mismatch(storage, monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    data = record(persist_value(1.5, storage=storage, serializer=PickleSerializer()))
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", "2024:" + "z" * 32)
    with pytest.raises(SignatureError, match="does not match its signature"):
        read(data)


def test_key_file_signs_with_its_first_line_and_checks_with_all(storage, monkeypatch, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# conveyor result keys\n{KEY_B}\n{KEY_A}\n")
    keys.chmod(0o600)
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    by_a = record(persist_value("a", storage=storage, serializer=PickleSerializer()))
    monkeypatch.delenv("CONVEYOR_RESULTS_SIGNING_KEY")
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY_FILE", str(keys))
    by_b = record(persist_value("b", storage=storage, serializer=PickleSerializer()))
    assert by_b["signature"].split(":")[1] == "2025"
    assert read(by_a) == "a" and read(by_b) == "b"
    keys.chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        get_signing_keys()


def test_bad_keys_are_settings_errors(monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", "short")
    with pytest.raises(SettingsError, match="at least 16"):
        get_signing_keys()
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", "x" * 20)
    assert get_signing_keys().signing.key_id.startswith("k-")  # an id derived from the secret
    assert "x" * 20 not in repr(get_signing_keys())
    monkeypatch.setenv("CONVEYOR_RESULTS_VERIFICATION_KEYS", "same:" + "1" * 20 + ",same:" + "2" * 20)
    with pytest.raises(SettingsError, match="the id 'same'"):
        get_signing_keys()


def test_results_verify_calls_a_forged_reference_untrusted(conveyor_home, monkeypatch, capsys):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)

    @task(persist_result=True)
    def make() -> dict[str, int]:
        return {"v": 1}

    @flow
    def signed_flow() -> None:
        make()

    state = signed_flow(return_state=True)
    task_run = get_client().read_task_runs(state.run_id)[0]
    store = get_client().store
    data = json.loads(task_run.state.data.json())
    data["checksum"] = "sha256:" + "2" * 64
    with store.transaction() as conn:
        conn.execute("UPDATE task_runs SET state_data = ? WHERE id = ?", (json.dumps(data), task_run.id))
    code = main(["results", "verify", state.run_id])
    out = capsys.readouterr().out
    assert code == 1 and "UNTRUSTED" in out and "does not match its signature" in out


def _forge_cache_entry(store: Any, cache_key: str, folder: Path) -> None:
    """What an attacker with write access to the database and the storage does: put their
    pickle at the entry's key and make the entry's checksum and size match it."""
    import hashlib

    (data,) = store.query("SELECT data FROM cache WHERE cache_key = ?", (cache_key,))[0]
    ref = json.loads(data)
    payload = pickle.dumps(_Exploit(), protocol=5)
    path = folder / ref["key"]
    digest = hashlib.sha256(payload).digest()
    path.write_bytes(payload)  # a stored result is exactly its payload
    forged = {**ref, "checksum": "sha256:" + digest.hex(), "size": len(payload)}
    with store.transaction() as conn:
        conn.execute("UPDATE cache SET data = ? WHERE cache_key = ?", (json.dumps(forged), cache_key))


def test_a_forged_cache_entry_is_a_miss_not_a_value(conveyor_home, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    storage = LocalFileSystem(basepath=str(tmp_path / "cache-one"))
    calls: list[int] = []

    @task(persist_result=True, result_storage=storage, result_serializer=PickleSerializer(picklelib="pickle"),
          cache_key_fn=lambda *_a, **_k: "forged-cache-key")
    def compute() -> int:
        calls.append(1)
        return 41

    @flow
    def cached_flow() -> int:
        return compute()

    assert cached_flow() == 41
    _forge_cache_entry(get_client().store, "forged-cache-key", Path(storage.basepath))
    assert cached_flow() == 41
    assert MARK not in os.environ, "the forged cache entry's pickle was loaded"
    assert len(calls) == 2  # the forged entry was refused: the task ran again


# -- serializer configurations from records --------------------------------------------------


def test_a_record_cannot_choose_an_object_decoder(storage):
    ref = persist_value({"a": 1}, storage=storage, serializer=JSONSerializer())
    forged = {**record(ref), "serializer": {**ref.serializer, "object_decoder": "os:system"}}
    with pytest.raises(ConfigurationError, match="not on the allow-list") as info:
        read(forged)
    assert "allow_imports('os:system')" in str(info.value)


def test_a_record_cannot_choose_a_pickle_library(storage):
    ref = persist_value([1], storage=storage, serializer=PickleSerializer())
    forged = {**record(ref), "serializer": {**ref.serializer, "picklelib": "marshal"}}
    with pytest.raises(ConfigurationError, match="picklelib='marshal'"):
        read(forged)
    assert serializer_from_dict({**ref.serializer, "picklelib": "pickle"}).picklelib == "pickle"


def test_allowed_imports_in_code_and_in_settings(storage, monkeypatch):
    import sys
    import types

    hooks = types.ModuleType("conveyor_signing_test_hooks")
    hooks.encode = lambda o: {"set": sorted(o)} if isinstance(o, frozenset) else NotImplemented  # type: ignore[attr-defined]
    hooks.decode = lambda d: frozenset(d["set"])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, hooks.__name__, hooks)
    config = {"type": "json", "jsonlib": "json", "object_encoder": f"{hooks.__name__}:encode",
              "object_decoder": f"{hooks.__name__}:decode"}
    with pytest.raises(ConfigurationError, match="allow-list"):
        serializer_from_dict(config)
    monkeypatch.setenv("CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS", f"{hooks.__name__}:*")
    assert serializer_from_dict(config).object_decoder == f"{hooks.__name__}:decode"
    assert serializer_from_dict(config) is serializer_from_dict(config)  # kept while allowed
    monkeypatch.delenv("CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS")
    with pytest.raises(ConfigurationError, match="allow-list"):  # no longer: refused again
        serializer_from_dict(config)
    allow_imports(f"{hooks.__name__}.encode", f"{hooks.__name__}:decode")  # either spelling
    assert serializer_from_dict(config).object_encoder == f"{hooks.__name__}:encode"


def test_a_serializer_given_in_code_allows_its_own_imports(storage, monkeypatch):
    import sys
    import types

    from conveyor.serializers import resolve_serializer

    hooks = types.ModuleType("conveyor_signing_test_own")
    hooks.decode = lambda d: d  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, hooks.__name__, hooks)
    mine = JSONSerializer(object_decoder=f"{hooks.__name__}:decode")
    config = mine.to_dict()
    with pytest.raises(ConfigurationError):
        serializer_from_dict(config)
    resolve_serializer(mine)  # what result_serializer=JSONSerializer(...) does
    assert serializer_from_dict(config) == mine


# -- read_result_file --------------------------------------------------------------------------


def test_read_result_file_needs_the_checksum(storage):
    ref = persist_value({"a": 1}, storage=storage, serializer=JSONSerializer(), key="k")
    with pytest.raises(TypeError):
        read_result_file(storage, "k")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="needs the expected checksum"):
        read_result_file(storage, "k", checksum=None)  # type: ignore[arg-type]
    assert read_result_file(storage, "k", checksum=ref.checksum, serializer=ref.serializer) == {"a": 1}


def test_read_result_file_does_not_take_code_from_the_file_header(storage):
    """An old (format 1) file's header is not covered by the checksum: its serializer goes
    through the allow-list. (Results of format 2 have no header: the serializer is the
    reference's, covered by its signature.)"""
    import hashlib

    payload = JSONSerializer().dumps({"a": 1})
    serializer = {**JSONSerializer().to_dict(), "object_decoder": "os:system"}
    header = json.dumps({"serializer": serializer}).encode()
    trailer = struct.pack(">Q32s8s", len(payload), hashlib.sha256(payload).digest(), b"CVYEND\0\0")
    Path(storage.basepath).mkdir(parents=True, exist_ok=True)
    path = Path(storage.basepath) / "k"
    path.write_bytes(struct.pack(">8sBI", b"CONVEYOR", 1, len(header)) + header + payload + trailer)
    checksum = "sha256:" + hashlib.sha256(payload).hexdigest()
    with pytest.raises(ConfigurationError, match="not on the allow-list"):
        read_result_file(storage, "k", checksum=checksum)


def test_a_forged_cache_entry_is_refused_on_every_hit_of_a_flow_run(conveyor_home, monkeypatch, tmp_path):
    """The attacker rewrites the stored file *and* the cache row's checksum to match."""
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", KEY_A)
    storage = LocalFileSystem(basepath=str(tmp_path / "cache-store"))
    ran: list[str] = []

    @task(persist_result=True, result_storage=storage, result_serializer=PickleSerializer(picklelib="pickle"),
          cache_key_fn=lambda _context, params: f"hit-{params['name']}")
    def compute(name: str) -> str:
        ran.append(name)
        return f"honest {name}"

    @flow
    def two_hits() -> list[str]:
        return [compute("first"), compute("second")]

    assert two_hits() == ["honest first", "honest second"]
    _forge_cache_entry(get_client().store, "hit-second", Path(storage.basepath))
    ran.clear()
    assert two_hits() == ["honest first", "honest second"]
    assert MARK not in os.environ, "the forged cache entry's pickle was loaded"
    assert ran == ["second"]
