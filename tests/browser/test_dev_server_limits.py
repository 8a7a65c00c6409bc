"""Under Django's development server (the live server is the same WSGI server as
``make run``): an upload whose announced length breaks the limit gets the 413 page with
its reason, not a 500 from a hop-by-hop header the server refuses."""

import re

import requests

from tests.accounts.live import committed_workspace, reset_staff
from tests.conftest import PASSWORD
from tests.uploads.conftest import MIB


def test_oversize_upload_is_a_413_with_the_reason(
    transactional_db, live_base, django_db_blocker, settings
):
    settings.UPLOADS_SCANNER_MAX_BYTES = MIB
    with django_db_blocker.unblock():
        tenant = committed_workspace("limitsco", "Limits Co")
        reset_staff(tenant)
    base = f"http://127.0.0.1:{live_base}"
    # One connection per request: the server joins its threads when it stops.
    host = {"Host": f"{tenant.slug}.localhost:{live_base}", "Connection": "close"}
    with requests.Session() as session:
        _sign_in_and_upload(session, base, host, tenant.slug)


def _sign_in_and_upload(session: requests.Session, base: str, host: dict, slug: str) -> None:
    login = session.get(f"{base}/accounts/login/", headers=host, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    signed_in = session.post(
        f"{base}/accounts/login/",
        data={"username": f"owner@{slug}.test", "password": PASSWORD,
              "csrfmiddlewaretoken": token},
        headers={**host, "Referer": f"http://{host['Host']}/accounts/login/"},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert signed_in.status_code == 302, signed_in.text

    for accept in ("text/html", "application/json"):
        response = session.post(
            f"{base}/documents/upload/",
            files={"files": ("big.bin", b"x" * (MIB + 200 * 1024))},
            headers={**host, "X-Upload-Files": "1", "Accept": accept},
            timeout=30,
        )
        assert response.status_code == 413, response.text[:500]
        reason = response.json()["detail"] if accept == "application/json" else response.text
        assert "larger than the limit of 1.0\xa0MB per file" in reason
