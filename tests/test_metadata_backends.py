"""Metadata backends are plugins: conveyor_register_metadata_backends, CONVEYOR_DATABASE_URL,
one store per database per process, a URL's password never shown."""

from __future__ import annotations

import pytest
from conveyor import hookimpl, plugins
from conveyor.exceptions import DuplicatePluginError, UnknownNameError
from conveyor.metadata import SQLiteStore, get_store, masked, scheme_of
from conveyor.settings import get_settings


class MemoryishStore(SQLiteStore):
    """A made-up backend (SQLite underneath) for the scheme ``testdb``."""

    schemes = ("testdb",)

    @classmethod
    def from_url(cls, url):
        store = cls(url.partition("://")[2])
        store.url = url
        return store


class _Plugin:
    @hookimpl
    def conveyor_register_metadata_backends(self):
        return [MemoryishStore]


def test_a_plugin_backend_is_picked_by_the_url_scheme(tmp_path, monkeypatch):
    pm = plugins.make_plugin_manager(plugins=[_Plugin()])
    assert pm.metadata_backends.get("testdb") is MemoryishStore
    assert pm.metadata_backends.get("sqlite") is SQLiteStore  # the built-in one
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", f"testdb://{tmp_path}/x.db")
    with plugins.use_plugin_manager(pm):
        store = get_store()
        assert isinstance(store, MemoryishStore) and get_store() is store
        store.save_block("local-file-system", "a", {"basepath": "/a"})
        assert (tmp_path / "x.db").exists()


def test_two_plugins_with_one_scheme_is_an_error_naming_both():
    class OtherStore(MemoryishStore):
        pass

    class Other:
        @hookimpl
        def conveyor_register_metadata_backends(self):
            return [OtherStore]

    with pytest.raises(DuplicatePluginError, match="schemes 'testdb' is provided twice"):
        plugins.make_plugin_manager(plugins=[_Plugin(), Other()])


def test_sqlite_urls_and_paths_share_one_store(tmp_path, monkeypatch, conveyor_home):
    path = tmp_path / "meta.db"
    store = get_store(f"sqlite://{path}")
    assert isinstance(store, SQLiteStore) and store.location == str(path.resolve())
    assert get_store(path) is store and get_store(str(path)) is store
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", f"sqlite://{path}")
    assert get_store() is store
    monkeypatch.delenv("CONVEYOR_DATABASE_URL")
    assert get_store().location == str((conveyor_home / "conveyor.db").resolve())


def test_an_unknown_scheme_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"unknown metadata database URL scheme 'nosuch'.*sqlite"):
        get_store("nosuch://user:pw-77@host/db")


def test_postgresql_without_its_plugin_says_what_to_install():
    pm = plugins.make_plugin_manager(load_entry_points=False)
    with plugins.use_plugin_manager(pm), pytest.raises(UnknownNameError) as info:
        get_store("postgresql://conveyor:pw-99@db.example/conveyor")
    text = str(info.value)
    assert "pip install --find-links dist 'conveyor[postgres]'" in text
    assert "pw-99" not in text and "conveyor:***@db.example" in text and "\n" not in text


def test_passwords_are_masked_everywhere(monkeypatch):
    assert masked("postgresql://u:p%40ss@h:5/db?sslmode=require") == "postgresql://u:***@h:5/db?sslmode=require"
    assert masked("postgresql://u@h/db?password=xyz&a=1") == "postgresql://u@h/db?password=***&a=1"
    assert masked("postgresql://u:@/db?host=/tmp") == "postgresql://u:@/db?host=/tmp"  # none to hide
    assert masked("/a/b.db") == "/a/b.db" and scheme_of("/a/b.db") is None
    assert scheme_of("PostgreSQL://h/db") == "postgresql"
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", "postgresql://u:topsecret@h/db")
    settings = get_settings()
    assert settings.database == "postgresql://u:topsecret@h/db"
    assert "topsecret" not in repr(settings)
