"""Settings come from the environment and bad values are named."""

from pathlib import Path

import pytest
from conveyor import serializers
from conveyor.exceptions import ConfigurationError, SettingsError
from conveyor.settings import get_settings


def test_defaults(monkeypatch, tmp_path):
    for var in ("CONVEYOR_HOME", "CONVEYOR_LOCAL_STORAGE_PATH", "CONVEYOR_LOGGING_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    s = get_settings()
    assert s.home == Path.home() / ".conveyor"
    assert s.database_path == Path.home() / ".conveyor" / "conveyor.db"
    assert s.default_serializer == "pickle"
    assert s.persist_by_default is False
    assert s.local_storage_path == tmp_path / ".conveyor-results"
    assert s.disabled_plugins == frozenset()
    assert s.logging_level == "INFO"


def test_values_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "json")
    monkeypatch.setenv("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", "TRUE")
    monkeypatch.setenv("CONVEYOR_LOCAL_STORAGE_PATH", str(tmp_path / "r"))
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", " a, b ,,")
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "debug")
    s = get_settings()
    assert s.home == tmp_path / "h"
    assert s.default_serializer == "json"
    assert s.persist_by_default is True
    assert s.local_storage_path == tmp_path / "r"
    assert s.disabled_plugins == {"a", "b"}
    assert s.logging_level == "DEBUG"


@pytest.mark.parametrize("raw", ["1", "yes", "on", "true"])
def test_true_spellings(monkeypatch, raw):
    monkeypatch.setenv("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", raw)
    assert get_settings().persist_by_default is True


@pytest.mark.parametrize("raw", ["0", "no", "off", "false", ""])
def test_false_spellings(monkeypatch, raw):
    monkeypatch.setenv("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", raw)
    assert get_settings().persist_by_default is False


def test_bad_boolean_names_variable_and_accepted_values(monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", "maybe")
    with pytest.raises(SettingsError) as info:
        get_settings()
    message = str(info.value)
    assert "CONVEYOR_RESULTS_PERSIST_BY_DEFAULT='maybe'" in message
    assert "true" in message and "false" in message
    assert isinstance(info.value, ConfigurationError)


def test_bad_logging_level(monkeypatch):
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match="CONVEYOR_LOGGING_LEVEL='LOUD'.*DEBUG, INFO"):
        get_settings()


def test_unknown_default_serializer_names_variable_and_available(monkeypatch):
    from conveyor.serializers import default_serializer

    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "yaml")
    with pytest.raises(ConfigurationError) as info:
        default_serializer()
    message = str(info.value)
    assert message.startswith("CONVEYOR_RESULTS_DEFAULT_SERIALIZER: unknown serializer 'yaml'")
    assert "json" in message and "pickle" in message


def test_default_serializer_follows_setting(monkeypatch):
    from conveyor.serializers import default_serializer

    assert default_serializer().type == "pickle"
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "json")
    assert default_serializer().type == "json"


def test_default_storage_follows_setting(monkeypatch, tmp_path):
    from conveyor.filesystems import default_storage

    monkeypatch.setenv("CONVEYOR_LOCAL_STORAGE_PATH", str(tmp_path / "elsewhere"))
    block = default_storage()
    assert block.block_type == "local-file-system"
    assert Path(block.basepath) == tmp_path / "elsewhere"


def test_signature_and_import_settings(monkeypatch):
    for var in ("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS"):
        monkeypatch.delenv(var, raising=False)
    s = get_settings()
    assert s.require_signatures is False and s.allowed_imports == frozenset()
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "yes")
    monkeypatch.setenv("CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS", " myapp.codecs:decode, dill ,")
    s = get_settings()
    assert s.require_signatures is True
    assert s.allowed_imports == {"myapp.codecs:decode", "dill"}
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "sure")
    with pytest.raises(SettingsError, match="CONVEYOR_RESULTS_REQUIRE_SIGNATURES='sure'"):
        get_settings()


def test_signing_keys_never_show_their_secret(monkeypatch):
    from conveyor.settings import get_signing_keys

    monkeypatch.delenv("CONVEYOR_RESULTS_SIGNING_KEY_FILE", raising=False)
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", "prod-1:" + "s" * 30)
    monkeypatch.setenv("CONVEYOR_RESULTS_VERIFICATION_KEYS", "prod-0:" + "t" * 30)
    keys = get_signing_keys()
    assert keys.signing is not None and keys.signing.key_id == "prod-1"
    assert keys.key_ids == ["prod-1", "prod-0"]
    assert "s" * 30 not in repr(keys) and "t" * 30 not in repr(keys)
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY_FILE", "/nonexistent/keys")
    with pytest.raises(SettingsError, match="set only one of them"):
        get_signing_keys()


def test_memoized_settings_follow_a_changed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "a"))
    first = get_settings()
    assert get_settings() is first  # nothing changed: not parsed again
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "b"))
    assert get_settings().home == tmp_path / "b"
    monkeypatch.setenv("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", "yes")
    assert get_settings().persist_by_default is True
    monkeypatch.delenv("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT")
    assert get_settings().persist_by_default is False
    monkeypatch.delenv("CONVEYOR_LOCAL_STORAGE_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert get_settings().local_storage_path == tmp_path / ".conveyor-results"
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "LOUD")
    for _ in range(2):  # an invalid value fails every time, never memoized
        with pytest.raises(SettingsError, match="CONVEYOR_LOGGING_LEVEL"):
            get_settings()


def test_a_store_follows_a_changed_home(monkeypatch, tmp_path):
    from conveyor.metadata import get_store

    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "one"))
    one = get_store()
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "two"))
    two = get_store()
    assert one is not two
    assert str(tmp_path / "two") in str(two.path)


def test_block_documents_are_cached_per_store(monkeypatch, tmp_path):
    from conveyor.exceptions import UnknownNameError
    from conveyor.filesystems import LocalFileSystem
    from conveyor.metadata import get_store
    from conveyor.results.storage import block_document, record_storage

    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "one"))
    doc = record_storage(LocalFileSystem(basepath=str(tmp_path / "r")))
    first = block_document(doc)
    assert first == get_store().get_block_document(doc)
    first[1]["basepath"] = "changed by a caller"  # callers get their own copy
    assert block_document(doc) == get_store().get_block_document(doc)
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "two"))
    with pytest.raises(UnknownNameError):  # another home's store is asked on its own
        block_document(doc)


def test_every_variable_read_into_settings_is_part_of_the_memo_key():
    """A variable parsed into Settings but missing from the memo's key would go stale."""
    import inspect
    import re

    from conveyor import settings as module

    read = set(re.findall(r'"(CONVEYOR_[A-Z_]+)"', inspect.getsource(module._read_settings)))
    assert read and read <= set(module._VARIABLES)


def test_the_allow_list_follows_the_setting_and_code(monkeypatch: pytest.MonkeyPatch) -> None:
    # allowed_imports() is kept between reads: a changed setting or a path allowed in
    # code makes it again; a path taken out of the setting is no longer allowed.
    monkeypatch.setenv("CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS", "pkg_from_setting")
    assert "pkg_from_setting" in serializers.allowed_imports()
    assert serializers.allowed_imports() is serializers.allowed_imports()  # kept
    monkeypatch.delenv("CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS")
    assert "pkg_from_setting" not in serializers.allowed_imports()
    monkeypatch.setattr(serializers, "_allowed", set(serializers._allowed))
    serializers.allow_imports("pkg_from_code")
    assert "pkg_from_code" in serializers.allowed_imports()
