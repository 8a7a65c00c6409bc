"""The repository's nginx configuration, rendered for loopback, in front of gunicorn
serving the test database: hosts, TLS, streamed uploads and the body limit, the
client's address as the app sees it, security headers and static files."""

from __future__ import annotations

import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "atrium.conf.template"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
DOMAIN = "localhost"  # the test database's workspaces live at <slug>.localhost
MAX_BODY_MB = 16

pytestmark = [
    pytest.mark.skipif(
        NGINX is None or shutil.which("openssl") is None,
        reason="nginx or openssl is not installed (deploy/local/services.sh test-deps)",
    ),
    # gunicorn serves the test database, which pytest-django sets up only for db tests.
    pytest.mark.django_db,
]


def free_low_port() -> int:
    """A free loopback port below the ephemeral range (local services stay under 32768)."""
    for _ in range(200):
        port = random.randrange(22000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``${NAME}`` placeholders as envsubst does; every one must be known."""
    rendered = re.sub(r"\$\{(ATRIUM_[A-Z_]+)\}", lambda m: values[m.group(1)], template)
    assert not [line for line in rendered.splitlines() if "${" in line.split("#")[0]]
    return rendered


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open: {log.read_text() if log.exists() else ''}")


@dataclass
class Stack:
    https_port: int
    http_port: int
    web_port: int
    cert: Path
    upload_tmp: Path

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        # The throw-away certificate is our only CA; OpenSSL does not match a wildcard
        # directly under a single-label name (*.localhost), so names are not checked.
        ctx.check_hostname = False
        return ctx

    def connect(self, host: str, *, source: str = "127.0.0.2", sni: str | None = None):
        """An HTTPS connection to nginx for ``host`` from the loopback address ``source``."""
        raw = socket.create_connection(
            ("127.0.0.1", self.https_port), timeout=20, source_address=(source, 0)
        )
        tls = self.context().wrap_socket(raw, server_hostname=sni or host)
        conn = http.client.HTTPConnection(host, self.https_port, timeout=20)
        conn.sock = tls
        return conn

    def get(self, host: str, path: str = "/", headers: dict | None = None, **kw):
        conn = self.connect(host, **kw)
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response, body


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory) -> Stack:
    tmp = tmp_path_factory.mktemp("nginx")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={DOMAIN}", "-keyout", str(key), "-out", str(cert),
         "-addext", f"subjectAltName=DNS:{DOMAIN},DNS:*.{DOMAIN}"],
        check=True, capture_output=True,
    )  # fmt: skip
    web_port, https_port, http_port = free_low_port(), free_low_port(), free_low_port()
    upload_tmp = tmp / "upload-tmp"
    upload_tmp.mkdir()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "BASE_DOMAIN": DOMAIN,
        "SECURE_SSL_REDIRECT": "1",  # as in production: nginx's X-Forwarded-Proto says https
        "FILE_UPLOAD_TEMP_DIR": str(upload_tmp),
        "AXES_FAILURE_LIMIT": "3",
        "AUDIT_TRUSTED_PROXIES": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
    }
    web_log = tmp / "gunicorn.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
         "--bind", f"127.0.0.1:{web_port}", "config.wsgi:application"],
        cwd=ROOT, env=env, stdout=web_log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    site = render(
        TEMPLATE.read_text(),
        {
            "ATRIUM_DOMAIN": DOMAIN,
            "ATRIUM_UPSTREAM": f"127.0.0.1:{web_port}",
            "ATRIUM_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
            "ATRIUM_HTTP_LISTEN": f"127.0.0.1:{http_port}",
            "ATRIUM_TLS_CERT": str(cert),
            "ATRIUM_TLS_KEY": str(key),
            "ATRIUM_STATIC_ROOT": str(ROOT / "platform" / "static"),
            "ATRIUM_MAX_BODY": f"{MAX_BODY_MB}m",
        },
    )
    (tmp / "atrium.conf").write_text(site)
    temp_paths = "\n".join(
        f"  {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp / "nginx.conf").write_text(
        f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} info;
events {{ worker_connections 256; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log {tmp / "access.log"};
{temp_paths}
  include {tmp / "atrium.conf"};
}}
"""
    )
    nginx_log = tmp / "error.log"
    proxy = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-e", str(nginx_log), "-c", str(tmp / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=nginx_log.open("ab"),
    )  # fmt: skip
    try:
        wait_for_port(web_port, web, web_log)
        wait_for_port(https_port, proxy, nginx_log)
        yield Stack(https_port, http_port, web_port, cert, upload_tmp)
    finally:
        proxy.terminate()  # nginx: fast shutdown
        web.send_signal(signal.SIGINT)  # gunicorn: quick shutdown (TERM waits for clients)
        for process in (proxy, web):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_template_is_valid_nginx(stack, tmp_path):
    # nginx parsed it to start at all; `nginx -t` says so explicitly for the record.
    conf = next(Path(p) for p in [stack.cert.parent / "nginx.conf"])
    result = subprocess.run(
        [NGINX, "-t", "-p", str(conf.parent), "-e", str(tmp_path / "t.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_public_host_and_workspace_hosts_reach_their_site(stack):
    response, body = stack.get(DOMAIN, "/")
    assert response.status == 200
    assert b"/signup/" in body
    for slug, name in (("alpha", b"Alpha Partners"), ("beta", b"Beta Partners")):
        response, body = stack.get(f"{slug}.{DOMAIN}", "/accounts/login/")
        assert response.status == 200, slug
        assert name in body, slug


def test_unknown_workspace_gets_the_apps_404_page(stack):
    response, body = stack.get(f"nobody-{secrets.token_hex(3)}.{DOMAIN}", "/")
    assert response.status == 404
    assert b"There is nothing here" in body


def test_a_foreign_host_never_reaches_the_app(stack):
    # Our certificate's name in the handshake, another name in Host: nginx's own 404.
    response, body = stack.get("evil.example", "/", sni=DOMAIN)
    assert response.status == 404
    assert b"There is nothing here" not in body
    # A foreign name in the handshake: refused, no certificate of ours shown.
    with pytest.raises(ssl.SSLError):
        stack.get("evil.example", "/")
    # Plain HTTP: our hosts are sent to HTTPS, others get 404.
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    conn.request("GET", "/x?y=1", headers={"Host": f"alpha.{DOMAIN}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 301
    assert response.getheader("Location") == f"https://alpha.{DOMAIN}/x?y=1"
    conn.request("GET", "/", headers={"Host": "evil.example"})
    response = conn.getresponse()
    response.read()
    assert response.status == 404
    conn.close()


def test_security_headers_on_pages(stack):
    response, _ = stack.get(f"alpha.{DOMAIN}", "/accounts/login/")
    headers = response.getheaders()
    hsts = [v for k, v in headers if k.lower() == "strict-transport-security"]
    assert hsts == ["max-age=31536000; includeSubDomains; preload"]
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Referrer-Policy") == "same-origin"
    assert response.getheader("Server") == "nginx"  # no version
    # nginx's request id reaches the app, which returns it (and logs it in audit events).
    assert re.fullmatch(r"[0-9a-f]{32}", response.getheader("X-Request-ID") or "")


def test_static_files_are_served_by_nginx_with_headers(stack):
    response, body = stack.get(DOMAIN, "/static/css/atrium.css")
    assert response.status == 200
    assert body == (ROOT / "platform" / "static" / "css" / "atrium.css").read_bytes()
    assert response.getheader("Content-Type") == "text/css"
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=31536000")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "max-age=2592000" in response.getheader("Cache-Control", "")
    missing, _ = stack.get(DOMAIN, "/static/css/nope.css")
    assert missing.status == 404


def _multipart_head(boundary: str, filename: str, token: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f'{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def test_uploads_are_streamed_to_the_app_not_buffered(stack):
    """With request buffering on, nginx would hold the body until its last byte; here
    the app is already writing the file while the client is still sending it."""
    boundary = "atrium" + secrets.token_hex(8)
    token = secrets.token_hex(16)
    head = _multipart_head(boundary, "big.bin", token)
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = 8 * 1024 * 1024
    conn = stack.connect(DOMAIN)
    conn.putrequest("POST", "/signup/", skip_host=True)
    for name, value in {
        "Host": DOMAIN,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
        "Cookie": f"atrium_csrf={token}",
        "Referer": f"https://{DOMAIN}/signup/",
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(head)
    chunk = b"\0" * (256 * 1024)
    sent = 0
    while sent < size // 2:
        conn.send(chunk)
        sent += len(chunk)
    # Half the file is sent: Django's upload handler spools it in FILE_UPLOAD_TEMP_DIR.
    seen = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and seen < 1024 * 1024:
        seen = max((p.stat().st_size for p in stack.upload_tmp.glob("*.upload*")), default=0)
        time.sleep(0.05)
    assert seen >= 1024 * 1024, "the app saw nothing of the body while it was being sent"
    while sent < size:
        conn.send(chunk)
        sent += len(chunk)
    conn.send(tail)
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200  # the signup form again (no fields): the body went through


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_sent(stack):
    conn = stack.connect(f"alpha.{DOMAIN}")
    conn.putrequest("POST", "/documents/upload/", skip_host=True)
    conn.putheader("Host", f"alpha.{DOMAIN}")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(MAX_BODY_MB * 1024 * 1024 + 1))
    conn.endheaders()  # no body at all: nginx answers from the declared length
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 413


def _failed_sign_in(stack: Stack, host: str, email: str, *, source: str, forged: str) -> int:
    token = secrets.token_hex(16)
    body = f"username={email}&password=wrong-{token}&csrfmiddlewaretoken={token}".encode()
    conn = stack.connect(host, source=source)
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Host": host,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"atrium_csrf={token}",
            "Referer": f"https://{host}/accounts/login/",
            "X-Forwarded-For": forged,
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def test_the_app_sees_the_real_client_address_and_never_a_forged_one(stack, tenant_a):
    from axes.models import AccessAttempt
    from django_tenants.utils import schema_context

    from audit.models import AuditEvent

    host = f"alpha.{DOMAIN}"
    email = f"ghost-{secrets.token_hex(4)}@alpha.test"
    # Through nginx, from 127.0.0.2, claiming to be 203.0.113.66.
    for _ in range(3):
        status = _failed_sign_in(stack, host, email, source="127.0.0.2", forged="203.0.113.66")
    assert status == 429  # locked out after AXES_FAILURE_LIMIT failures from this client
    events = AuditEvent.objects.filter(action="auth.login_failed", changes__username=email)
    assert {e.ip for e in events} == {"127.0.0.2"}
    with schema_context(tenant_a.schema_name):
        attempts = list(AccessAttempt.objects.filter(username=email))
        assert [a.ip_address for a in attempts] == ["127.0.0.2"]
    # Another client behind the same proxy is counted on its own: not locked out.
    assert _failed_sign_in(stack, host, email, source="127.0.0.4", forged="127.0.0.2") == 200
    assert {e.ip for e in events.all()} == {"127.0.0.2", "127.0.0.4"}

    # Straight to gunicorn from an address that is no trusted proxy: the header is ignored.
    token = secrets.token_hex(16)
    raw = socket.create_connection(("127.0.0.1", stack.web_port), source_address=("127.0.0.3", 0))
    conn = http.client.HTTPConnection(host, stack.web_port, timeout=20)
    conn.sock = raw
    conn.request(
        "POST",
        "/accounts/login/",
        body=f"username={email}&password=x&csrfmiddlewaretoken={token}".encode(),
        headers={
            "Host": host,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"atrium_csrf={token}",
            "Referer": f"https://{host}/accounts/login/",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.66",
        },
    )
    conn.getresponse().read()
    conn.close()
    assert {e.ip for e in events.all()} == {"127.0.0.2", "127.0.0.4", "127.0.0.3"}
    with schema_context(tenant_a.schema_name):
        AccessAttempt.objects.filter(username=email).delete()
