"""The OpenAPI schema: committed and current, served live with this workspace's URLs,
its documentation offline, and the live API fuzzed against it (schemathesis: bounded by
example counts here, by ``SCHEMATHESIS_MAX_TIME`` seconds in ``make fuzz``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from django.conf import settings
from django.core.management import call_command

from api import limits
from billing.models import Plan
from core.principal import SYSTEM
from signup.services import tenant_provision
from tenants.models import Tenant
from tests.conftest import PASSWORD, client_for, user_of

from .conftest import client_token, make_user, register

pytestmark = pytest.mark.django_db
COMMITTED = Path(settings.BASE_DIR) / "platform" / "api" / "openapi.yaml"


def test_the_committed_schema_is_current(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert generated.read_text() == COMMITTED.read_text(), "stale schema: run `make openapi`"


def test_the_schema_documents_scopes_and_every_error():
    schema = yaml.safe_load(COMMITTED.read_text())
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    assert set(flows) == {"authorizationCode", "clientCredentials"}
    assert "staff:write" in flows["clientCredentials"]["scopes"]
    invite = schema["paths"]["/api/v1/invitations/"]["post"]
    assert invite["security"] == [{"oauth2": ["staff:write"]}]
    # Ids are typed (integers for staff and invitations, UUIDs for documents), so clients
    # and the fuzzer send real ones; any other text still gets the API's 404 problem.
    kinds = {"staff": {"type": "integer"}, "invitations": {"type": "integer"},
             "documents": {"type": "string", "format": "uuid"}}  # fmt: skip
    for url, path in schema["paths"].items():
        for operation in path.values():
            ids = [q["schema"] for q in operation.get("parameters", []) if q["in"] == "path"]
            if "{id}" in url:
                assert ids == [kinds[url.split("/")[3]]], url
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "409", "413", "415", "429"} <= codes


def test_the_live_schema_names_this_workspace(tenant_a):
    response = client_for(tenant_a).get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["servers"][0]["url"] == "http://alpha.localhost"
    token_url = schema["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert token_url["tokenUrl"] == "http://alpha.localhost/o/token/"


def test_swagger_ui_and_redoc_are_served_offline(tenant_a):
    for path in ("/api/docs/", "/api/redoc/"):
        page = client_for(tenant_a).get(path)
        assert page.status_code == 200
        html = page.content.decode()
        assert "drf_spectacular_sidecar" in html  # our own static files
        assert "cdn." not in html and "unpkg" not in html


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing(live_server, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "per_minute", lambda tenant_id, load: 100_000)
    # A workspace of its own: the fuzzer's documents, staff and (append-only) audit
    # events never meet the other tests' workspaces.
    tenant_provision(
        actor=SYSTEM, slug="fuzz", name="Fuzz", owner_email="owner@fuzz.test",
        owner_password=PASSWORD,
    )  # fmt: skip
    # On the Team plan: the trial's 5 seats would leave the fuzzer no invitation to make.
    Tenant.objects.filter(slug="fuzz").update(plan=Plan.objects.get(code="team"))
    fuzz = Tenant.objects.get(slug="fuzz")
    owner = user_of(fuzz, "owner@fuzz.test")
    # Staff for the id-taking operations to find: the fuzzer draws small integers often,
    # and the owner (id 1) alone would leave deactivate, reactivate and role changes at
    # their refusals.
    staff_ids = [
        make_user(fuzz, f"staff{n}@fuzz.test", role).pk
        for n, role in enumerate(["admin", "member", "member", "admin", "member"])
    ]
    assert max(staff_ids) < 10, staff_ids  # small: ids the fuzzer draws
    token = client_token(fuzz, register(fuzz, owner, role="admin"))["access_token"]
    host = "fuzz.localhost"
    live = requests.get(f"{live_server.url}/api/schema/", headers={"Host": host}, timeout=30)
    assert live.status_code == 200
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_bytes(live.content)
    here = Path(__file__).parent
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file", str(here / "schemathesis.toml"),
        "run", str(schema_file),
        "--url", live_server.url,
        "--header", f"Host: {host}",
        "--header", f"Authorization: Bearer {token}",
        # `--checks all` turns on every check, whatever the config file says, so the one
        # check the config explains away (use_after_free) is excluded here as well.
        "--checks", "all", "--exclude-checks", "use_after_free",
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "1"),
        "--request-timeout", "20",
        "--no-color",
        "--workers", "1",
    ]  # fmt: skip
    # The suite's run is bounded by the config file's example counts, the same on every
    # machine. With SCHEMATHESIS_MAX_TIME (`make fuzz`) schemathesis instead repeats its
    # phases with new cases until that many seconds are spent: deeper, for CI.
    budget = int(os.environ.get("SCHEMATHESIS_MAX_TIME") or 0)
    if budget:
        command += ["--max-time", str(budget)]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(here / "schemathesis_hooks.py")}
    # In the test's folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180 + budget, check=False, cwd=tmp_path,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
