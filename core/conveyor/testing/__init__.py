"""Test support for conveyor and for plugin authors.

- :mod:`conveyor.testing.fixtures`: a pytest plugin with fixtures that give each test its
  own metadata database, result folder and plugin manager.
- conformance suites (abstract test classes a plugin's tests subclass):
  :mod:`conveyor.testing.serializers` and :mod:`conveyor.testing.storage` (with one
  fixture), :mod:`conveyor.testing.plugins` (the plugin's entry point; with class
  attributes).
- :mod:`conveyor.testing.values`: hypothesis strategies of values and a strict
  comparison, re-exported by :mod:`conveyor.testing.serializers`.

The modules here may import pytest, hypothesis and conveyor's public modules; nothing in
conveyor imports them.
"""
