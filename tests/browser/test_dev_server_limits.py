"""Under Django's development server (the live server is the same WSGI server as
``make run``): an upload whose announced length breaks the limit gets the 413 page with
its reason, not a 500 from a hop-by-hop header the server refuses."""

import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from tests.accounts.live import committed_workspace, reset_staff
from tests.servers import MIB


def test_oversize_upload_is_a_413_with_the_reason(
    transactional_db, live_base, django_db_blocker, settings
):
    settings.UPLOADS_SCANNER_MAX_BYTES = MIB
    with django_db_blocker.unblock():
        tenant = committed_workspace("limitsco", "Limits Co")
        reset_staff(tenant)
        # Signed in as the test client does it (the sign-in form is not under test).
        signer = Client(HTTP_HOST=f"{tenant.slug}.localhost")
        with schema_context(tenant.schema_name):
            signer.force_login(get_user_model().objects.get(email=f"owner@{tenant.slug}.test"))
        session_id = signer.cookies[django_settings.SESSION_COOKIE_NAME].value
    # One connection per request: the server joins its threads when it stops.
    headers = {
        "Host": f"{tenant.slug}.localhost:{live_base}",
        "Connection": "close",
        "Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session_id}",
        "X-Upload-Files": "1",
    }
    for accept in ("text/html", "application/json"):
        response = requests.post(
            f"http://127.0.0.1:{live_base}/documents/upload/",
            files={"files": ("big.bin", b"x" * (MIB + 200 * 1024))},
            headers={**headers, "Accept": accept},
            timeout=30,
        )
        assert response.status_code == 413, response.text[:500]
        reason = response.json()["detail"] if accept == "application/json" else response.text
        assert "larger than the limit of 1.0\xa0MB per file" in reason
