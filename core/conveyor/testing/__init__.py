"""Test support for conveyor and for plugin authors.

- :mod:`conveyor.testing.fixtures`: a pytest plugin with fixtures that give each test its
  own metadata database, result folder and plugin manager.
- conformance suites for serializers and storage blocks (abstract test classes a
  plugin subclasses with one fixture).
"""
