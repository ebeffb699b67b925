"""``conveyor ui``: the token, the Host check, security headers, secrets, the command."""

from __future__ import annotations

import http.cookiejar
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conveyor.cli import main
from conveyor.cli.ui import ui_config
from conveyor.filesystems import get_storage_class
from conveyor.ui.app import create_app
from conveyor.ui.config import INSTALL_COMMAND, TOKEN_COOKIE, UIConfig, is_loopback
from starlette.testclient import TestClient


_ui = sys.modules["conveyor_tests_ui_store"]  # loaded by tests/conftest.py
ui_store = _ui.ui_store
TOKEN = "a-long-enough-test-token-1234"


def _app(**config):
    return create_app(UIConfig(**config))


# -- the token -----------------------------------------------------------------------------


def test_without_the_token_every_page_is_a_401():
    client = TestClient(_app(token=TOKEN, allowed_hosts=("*",)))
    for path in ("/", "/blocks", "/runs/x", "/static/ui.css", "/?token=wrong"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 401, path
        assert "Token needed" in page.text and TOKEN not in page.text
    assert "needs its token" in client.get("/?format=json").json()["error"]
    bad_cookie = TestClient(_app(token=TOKEN, allowed_hosts=("*",)), cookies={TOKEN_COOKIE: "x" * 30})
    assert bad_cookie.get("/").status_code == 401


def test_the_token_once_in_the_address_becomes_a_strict_httponly_cookie():
    client = TestClient(_app(token=TOKEN, allowed_hosts=("*",)))
    first = client.get(f"/runs/abc?format=json&token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/runs/abc?format=json"  # the token dropped
    cookie = first.headers["set-cookie"]
    assert f"{TOKEN_COOKIE}={TOKEN}" in cookie
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert client.get("/").status_code == 200  # the cookie now
    assert client.get("/runs/abc").status_code == 404


def test_a_bearer_header_lets_scripts_in():
    client = TestClient(_app(token=TOKEN, allowed_hosts=("*",)))
    page = client.get("/?format=json", headers={"authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and page.json()["runs"] == []
    assert client.get("/", headers={"authorization": "Bearer nope"}).status_code == 401


def test_without_a_token_only_loopback_host_names_are_answered():
    app = _app()
    for host in ("127.0.0.1:4200", "localhost:4200", "[::1]:4200", "localhost"):
        assert TestClient(app, base_url=f"http://{host}").get("/").status_code == 200, host
    for host in ("evil.example", "evil.example:4200", "127.0.0.1.nip.io:4200"):
        page = TestClient(app, base_url=f"http://{host}").get("/")
        assert page.status_code == 401, host
        assert "answers only to" in page.text


def test_every_answer_carries_the_security_headers():
    client = TestClient(_app(), base_url="http://127.0.0.1:4200")
    for path in ("/", "/nope", "/static/ui.css"):
        headers = client.get(path).headers
        assert "default-src 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


# -- secrets -----------------------------------------------------------------------------------


def test_saved_block_secrets_are_never_shown():
    s3 = get_storage_class("s3")
    s3(bucket_path="my-bucket/prod", aws_access_key_id="AKIDSECRETVALUE1",
       aws_secret_access_key="very-secret-key-value-2", endpoint_url="http://127.0.0.1:1").save("prod")
    client = TestClient(_app(), base_url="http://127.0.0.1:4200")
    page = client.get("/blocks")
    doc = client.get("/blocks?format=json")
    for text in (page.text, doc.text):
        assert "AKIDSECRETVALUE1" not in text and "very-secret-key-value-2" not in text
    assert "s3/prod" in page.text and "my-bucket/prod" in page.text and "********" in page.text
    [shown] = json.loads(doc.text)
    assert shown["slug"] == "s3/prod"
    assert {k: shown["config"][k] for k in ("bucket_path", "aws_access_key_id",
                                            "aws_secret_access_key", "endpoint_url")} == {
        "bucket_path": "my-bucket/prod", "aws_access_key_id": "********",
        "aws_secret_access_key": "********", "endpoint_url": "http://127.0.0.1:1"}


# -- the command -------------------------------------------------------------------------------


def test_options_a_non_loopback_host_always_gets_a_token():
    config, generated = ui_config("127.0.0.1", 4200, None)
    assert config.token is None and not generated and "127.0.0.1" in config.allowed_hosts
    config, generated = ui_config("0.0.0.0", 4200, None)
    assert generated and len(config.token) >= 32 and config.allowed_hosts == ("*",)
    assert config.url().startswith("http://127.0.0.1:4200/?token=")
    config, generated = ui_config("127.0.0.1", 4200, "")
    assert generated and config.token
    config, generated = ui_config("192.168.1.5", 8080, TOKEN)
    assert config.token == TOKEN and not generated
    with pytest.raises(ValueError, match="at least 16 characters"):
        ui_config("0.0.0.0", 4200, "short")
    with pytest.raises(ValueError, match="not a port number"):
        ui_config("127.0.0.1", 70000, None)
    assert is_loopback("::1") and is_loopback("127.0.0.2") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_the_command_is_listed(capsys):
    with pytest.raises(SystemExit):
        main(["ui", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--token" in out and "--open" in out
    assert INSTALL_COMMAND.replace(" ", "") in out.replace(" ", "")  # however the help wraps


def test_without_the_ui_extra_the_command_says_what_to_install(conveyor_home):
    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "from conveyor.cli import main; sys.exit(main(['ui']))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("conveyor: error: conveyor ui needs starlette, uvicorn")
    assert INSTALL_COMMAND in lines[0]


def test_the_real_server_with_a_token(ui_store):
    with _ui.serving(ui_store, "--token", TOKEN) as (base, first):
        assert f"{base}/?token={TOKEN}" in first
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/", timeout=10)
        assert refused.value.code == 401
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(f"{base}/?token={TOKEN}", timeout=10) as page:
            assert page.status == 200 and "Flow runs" in page.read().decode()
        assert [c.name for c in jar] == [TOKEN_COOKIE]
        with opener.open(f"{base}/runs/{ui_store['report']}?format=json", timeout=10) as page:
            assert json.loads(page.read())["flow"] == "report"


def test_a_forged_reference_is_an_untrusted_page_not_a_traceback(tmp_path, monkeypatch):
    from conveyor import task
    from conveyor.ui.errors import Untrusted
    from conveyor.ui.resultview import _payload

    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", "k1:" + "a" * 64)
    monkeypatch.setenv("CONVEYOR_RESULTS_REQUIRE_SIGNATURES", "true")

    @task(persist_result=True, result_serializer="json")
    def make():
        return {"v": 1}

    ref = make(return_state=True).data
    forged = type(ref).from_dict({**ref.to_dict(), "checksum": "sha256:" + "0" * 64})
    with pytest.raises(Untrusted), _payload(forged):
        pass
