# conveyor's fixtures (an isolated CONVEYOR_HOME per test) for the conformance suites.
pytest_plugins = ["conveyor.testing.fixtures"]
