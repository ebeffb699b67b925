"""``conveyor ui`` end to end in a real headless Chromium, against uvicorn on 127.0.0.1.

Chromium comes from the system's packages (Debian's ``chromium-headless-shell`` or
``chromium``). When neither is installed, the session fixture installs the headless
shell with apt (``apt-get update`` once, then ``apt-get install``, each with a time
limit: this machine and CI run as root); when that cannot be done, the test fails with
one line saying what to install. The browser is driven with its own command line
(``--dump-dom``, ``--screenshot``), no driver. Screenshots are saved under the test's
temporary folder, and also into ``$CONVEYOR_UI_SCREENSHOTS`` when that is set (how
docs/images/ui-runs.png was made).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest


_ui = sys.modules["conveyor_tests_ui_store"]  # loaded by tests/conftest.py
ui_store = _ui.ui_store

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")
PACKAGE = "chromium-headless-shell"
INSTALL_HINT = f"install Debian's {PACKAGE} (or chromium): apt-get install -y {PACKAGE}"
#: From /work/.library/env/machines/python.md: no sandbox as root, no network chatter.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1",
)


def _find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _apt_install() -> str | None:
    """Install the headless shell with apt; the problem as one line, or None."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not root, so apt-get cannot install it here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        (["apt-get", "update"], 600),
        (["apt-get", "install", "-y", "--no-install-recommends", PACKAGE], 1200),
    )
    for command, limit in steps:
        try:
            done = subprocess.run(command, check=False, capture_output=True, text=True, env=env,
                                  timeout=limit)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` took more than {limit} s"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            return f"`{' '.join(command)}` failed: {last}"
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a headless Chromium, installed with apt when missing."""
    found = _find_browser()
    if found is None:
        problem = _apt_install()
        found = _find_browser()
        if found is None:
            pytest.fail(f"no Chromium for the browser test ({problem or 'not found after install'}); "
                        f"{INSTALL_HINT}", pytrace=False)
    return found


def _run_browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def dump_dom(chromium: str, profile: Path, url: str) -> str:
    return _run_browser(chromium, profile, "--dump-dom", url).stdout


def screenshot(chromium: str, profile: Path, url: str, target: Path, size: str = "1280,900") -> Path:
    _run_browser(chromium, profile, f"--screenshot={target}", f"--window-size={size}", url)
    assert target.exists(), f"chromium wrote no screenshot at {target}"
    keep = os.environ.get("CONVEYOR_UI_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(keep) / target.name)
    return target


def png_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values of its pixels): a blank page has very few."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_runs_and_run_pages_render_in_a_real_browser(chromium, ui_store, tmp_path):
    profile = tmp_path / "profile"
    with _ui.serving(ui_store) as (base, _first):
        runs = dump_dom(chromium, profile, f"{base}/")
        assert "<h1>Flow runs</h1>" in runs
        for run_id in (ui_store["report"], ui_store["resumed"], ui_store["broken"]):
            assert f'href="/runs/{run_id}"' in runs
        assert "state state-FAILED name-Failed" in runs and "State colours</h2>" in runs

        run = dump_dom(chromium, profile, f"{base}/runs/{ui_store['report']}")
        assert "Flow run <strong>report</strong>" in run
        for name in ("make_table", "pickled", "cached_sum", "explode", "inner"):
            assert f">{name}</a>" in run, name
        assert "Cached 1</span>" in run and run.count('class="bar"') == ui_store["task_count"]

        shot = screenshot(chromium, profile, f"{base}/", tmp_path / "ui-runs.png")
        width, height, variety = png_facts(shot)
        assert (width, height) == (1280, 900) and variety > 30
        shot = screenshot(chromium, profile, f"{base}/runs/{ui_store['report']}",
                          tmp_path / "ui-run.png", size="1280,1700")
        assert png_facts(shot)[:2] == (1280, 1700) and png_facts(shot)[2] > 30
        narrow = screenshot(chromium, profile, f"{base}/runs/{ui_store['report']}",
                            tmp_path / "ui-run-narrow.png", size="390,844")
        assert png_facts(narrow)[:2] == (390, 844)
        narrow = screenshot(chromium, profile, f"{base}/", tmp_path / "ui-runs-narrow.png", size="390,844")
        assert png_facts(narrow)[:2] == (390, 844)


def test_the_token_in_the_address_lets_the_browser_in(chromium, ui_store, tmp_path):
    token = "browser-test-token-0123456789"
    with _ui.serving(ui_store, "--token", token) as (base, _first):
        refused = dump_dom(chromium, tmp_path / "refused", f"{base}/")
        assert "Token needed" in refused and "Flow runs" not in refused
        # the 303 to the address without the token, with the cookie, then the page
        page = dump_dom(chromium, tmp_path / "profile", f"{base}/runs/{ui_store['report']}?token={token}")
        assert "Flow run <strong>report</strong>" in page
