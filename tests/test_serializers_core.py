"""Serializer resolution, configuration and the base class (conveyor.serializers)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import attrs
import pytest
from conveyor import hookimpl, plugins
from conveyor.exceptions import ConfigurationError, UnknownNameError
from conveyor.serialization.compressed import CompressedSerializer
from conveyor.serializers import (
    JSONSerializer,
    PickleSerializer,
    Serializer,
    default_serializer,
    resolve_serializer,
    serializer_classes,
    serializer_from_dict,
)
from conveyor.testing.serializers import NonSeekableReader, SerializerConformance, WriteOnlyStream


@attrs.frozen
class Rot13JSON(Serializer):
    """A third-party serializer that defines only dumps and loads."""

    type: ClassVar[str] = "rot13-json"
    indent: int | None = None

    def dumps(self, obj: Any) -> bytes:
        import codecs

        return codecs.encode(json.dumps(obj, indent=self.indent), "rot13").encode()

    def loads(self, data: bytes) -> Any:
        import codecs

        try:
            return json.loads(codecs.decode(data.decode(), "rot13"))
        except ValueError as exc:
            from conveyor.exceptions import SerializationError

            raise SerializationError(f"not rot13 JSON: {exc}") from exc


class _Rot13Plugin:
    @hookimpl
    def conveyor_register_serializers(self) -> list[type[Serializer]]:
        return [Rot13JSON]


@pytest.fixture
def with_rot13() -> Any:
    pm = plugins.make_plugin_manager(plugins=[_Rot13Plugin()])
    with plugins.use_plugin_manager(pm):
        yield pm


class TestThirdPartyConformance(SerializerConformance):
    """A serializer with only dumps/loads passes the suite through the base class defaults."""

    @pytest.fixture
    def serializer(self, with_rot13: Any) -> Serializer:
        return Rot13JSON(indent=2)


# -- resolve_serializer ---------------------------------------------------------------------


def test_names_resolve_to_default_instances() -> None:
    assert resolve_serializer("json") == JSONSerializer()
    assert resolve_serializer("pickle") == PickleSerializer()
    assert resolve_serializer("compressed") == CompressedSerializer()
    assert resolve_serializer("compressed/json") == CompressedSerializer(serializer=JSONSerializer())
    assert resolve_serializer("compressed/compressed/pickle") == CompressedSerializer(
        serializer=CompressedSerializer(serializer=PickleSerializer())
    )


def test_instances_are_used_as_they_are() -> None:
    serializer = JSONSerializer(jsonlib="orjson")
    assert resolve_serializer(serializer) is serializer


def test_a_registered_plugin_name_resolves(with_rot13: Any) -> None:
    assert resolve_serializer("rot13-json") == Rot13JSON()
    assert resolve_serializer("compressed/rot13-json").serializer == Rot13JSON()  # type: ignore[attr-defined]


def test_unknown_names_list_the_available_ones_sorted() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_serializer("yaml")
    assert str(info.value) == "unknown serializer 'yaml'; available: compressed, json, pickle"
    with pytest.raises(UnknownNameError, match="unknown serializer 'yaml'; available: compressed, json, pickle"):
        resolve_serializer("compressed/yaml")


def test_unknown_name_is_a_lookup_error_with_install_hint_for_our_plugins() -> None:
    pm = plugins.make_plugin_manager(disabled=["serializer-json"])
    with plugins.use_plugin_manager(pm), pytest.raises(LookupError, match="install conveyor-serializer-json"):
        resolve_serializer("json")


@pytest.mark.parametrize("value", [None, 3, b"json", ["json"], {"type": "json"}])
def test_other_types_are_a_type_error_naming_the_accepted_forms(value: Any) -> None:
    with pytest.raises(TypeError) as info:
        resolve_serializer(value)
    message = str(info.value)
    assert "'json' or 'pickle'" in message and "compressed/<name>" in message
    assert "Serializer instance" in message


def test_a_class_instead_of_an_instance_says_to_instantiate_it() -> None:
    with pytest.raises(TypeError, match=r"pass an instance, JSONSerializer\(\)"):
        resolve_serializer(JSONSerializer)  # type: ignore[arg-type]


def test_default_serializer_follows_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_serializer() == PickleSerializer()
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "json")
    assert default_serializer() == JSONSerializer()
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "compressed/json")
    assert default_serializer() == CompressedSerializer(serializer=JSONSerializer())
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "yaml")
    with pytest.raises(ConfigurationError, match="CONVEYOR_RESULTS_DEFAULT_SERIALIZER.*available: compressed, json, pickle"):
        default_serializer()


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "serializer",
    [
        CompressedSerializer(),
        CompressedSerializer(serializer=JSONSerializer(jsonlib="orjson"), compressionlib="lzma", level=1),
        CompressedSerializer(serializer=CompressedSerializer(compressionlib="bz2")),
    ],
    ids=repr,
)
def test_every_configuration_is_json_and_rebuilds_exactly(serializer: Serializer) -> None:
    data = serializer.to_dict()
    text = json.dumps(data)
    rebuilt = serializer_from_dict(json.loads(text))
    assert rebuilt == serializer and rebuilt.to_dict() == data
    assert type(serializer).from_config(json.loads(json.dumps(serializer.config()))) == serializer


def test_nested_configuration_is_plain_json() -> None:
    serializer = CompressedSerializer(serializer=JSONSerializer(jsonlib="orjson"), compressionlib="lzma")
    assert serializer.to_dict() == {
        "type": "compressed",
        "serializer": {"type": "json", "jsonlib": "orjson", "object_encoder": None, "object_decoder": None},
        "compressionlib": "lzma",
        "level": None,
    }


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="has no option\\(s\\) 'colour'; its options are: jsonlib, object_decoder, object_encoder"):
        serializer_from_dict({"type": "json", "colour": "red"})
    with pytest.raises(ConfigurationError, match="has no 'type'"):
        serializer_from_dict({"jsonlib": "json"})
    with pytest.raises(ConfigurationError, match="must be a dict"):
        serializer_from_dict("json")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="available: compressed, json, pickle"):
        serializer_from_dict({"type": "yaml"})


def test_base_class_streams_through_dumps_and_loads(with_rot13: Any) -> None:
    serializer = Rot13JSON()
    sink = WriteOnlyStream()
    serializer.dump({"a": [1, 2]}, sink)  # type: ignore[arg-type]
    assert sink.getvalue() == serializer.dumps({"a": [1, 2]})
    assert serializer.load(NonSeekableReader(sink.getvalue())) == {"a": [1, 2]}  # type: ignore[arg-type]


def test_classes_are_found_as_module_attributes() -> None:
    from conveyor import serializers

    assert serializers.JSONSerializer is serializer_classes()["json"]
    assert serializers.PickleSerializer is serializer_classes()["pickle"]
    assert serializer_classes()["compressed"] is CompressedSerializer
