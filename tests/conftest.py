"""The core tests' shared helper modules, loaded once by path (``tests/`` is not a package:
``--import-mode=importlib``) before any test module is imported; a test module takes one
with ``sys.modules[HELPERS["_venv"]]``-style lookups of the names below."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: module name of each helper file in tests/: the real-venv builder, the old result
#: format's fixtures, the UI tests' store of real runs
HELPERS = {
    "_venv": "conveyor_tests_venv_helper",
    "_old_format": "conveyor_tests_old_format",
    "_ui_store": "conveyor_tests_ui_store",
}

for _stem, _name in HELPERS.items():
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, Path(__file__).with_name(f"{_stem}.py"))
        assert _spec is not None and _spec.loader is not None
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[_name] = _module
        _spec.loader.exec_module(_module)
