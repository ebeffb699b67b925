"""Build hook: compile the optional C proof (``conveyor_serializer_json/_proof.c``).

The proof that a value is plain JSON data has two forms: a pure-Python walk
(``plain.proven_plain``) and this C module, which does the check about 2.5 times as fast;
the serializer uses the module when it is there. So the build compiles it when it can:

- a wheel gets the compiled module and the interpreter's platform tag;
- an editable install (``pip install -e``) gets it compiled next to the sources;
- with no C compiler (or ``CONVEYOR_JSON_PURE=1`` set), the build says so on stderr and
  makes a pure-Python wheel that runs everywhere, on the walk (an editable install then
  removes a module an earlier one compiled next to the sources).

setuptools does the compiling (``build_ext``): it knows each platform's compiler and
flags, and honours ``CC``/``CFLAGS``; it is a build-time requirement only.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "conveyor_serializer_json._proof"
SOURCE = "conveyor_serializer_json/_proof.c"
PURE = "CONVEYOR_JSON_PURE"


class ProofBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles ``_proof.c`` for the wheel (or in place, for an editable install)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        inplace = version == "editable"
        if os.environ.get(PURE, "").strip() not in ("", "0"):
            self._say(f"{PURE} is set: building without the compiled proof (pure Python)")
            self._drop_inplace(inplace)
            return
        self._temp = Path(tempfile.mkdtemp(prefix="conveyor-json-build-"))
        try:
            built = self._compile(inplace)
        except Exception as exc:  # noqa: BLE001 - no compiler, no headers, no setuptools: the walk serves
            self._say(
                f"could not compile {SOURCE} ({type(exc).__name__}: {exc}); building without "
                f"the compiled proof: JSON results are checked by the pure-Python walk instead"
            )
            self._drop_inplace(inplace)
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not inplace:
            build_data["force_include"][str(built)] = f"conveyor_serializer_json/{built.name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        temp = getattr(self, "_temp", None)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    def _compile(self, inplace: bool) -> Path:
        # imported here, not above: a build without setuptools still makes the pure wheel
        from setuptools import Distribution, Extension

        root = Path(self.root)
        extension = Extension(MODULE, sources=[str(root / SOURCE)], optional=False)
        dist = Distribution({"name": "conveyor-serializer-json", "ext_modules": [extension]})
        command = dist.get_command_obj("build_ext")
        command.build_temp = str(self._temp / "temp")
        command.build_lib = str(root if inplace else self._temp / "lib")
        command.ensure_finalized()
        command.run()
        outputs = [Path(p) for p in command.get_outputs()]
        if len(outputs) != 1 or not outputs[0].is_file():
            raise RuntimeError(f"build_ext made {outputs}, not one module")
        return outputs[0]

    def _drop_inplace(self, inplace: bool) -> None:
        """An editable install left without the module must not keep one an earlier
        install compiled next to the sources (it would be imported, from older source)."""
        if inplace:
            for stale in (Path(self.root) / "conveyor_serializer_json").glob("_proof.*"):
                if stale.suffix in (".so", ".pyd"):
                    stale.unlink()

    def _say(self, message: str) -> None:
        print(f"conveyor-serializer-json: {message}", file=sys.stderr)
