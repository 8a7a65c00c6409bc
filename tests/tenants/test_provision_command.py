"""``manage.py provision_tenant``."""

import json

import pytest
from django.core.management import CommandError, call_command

from tenants.models import Tenant
from tests.conftest import user_of

ARGS = [
    "--slug", "epsilon", "--name", "Epsilon Ltd",
    "--owner-email", "eve@epsilon.test", "--owner-password", "Silver-harbour-lamp-3",
]  # fmt: skip


def test_prints_the_workspace_url(db, capsys):
    call_command("provision_tenant", *ARGS)
    assert capsys.readouterr().out.strip() == "http://epsilon.localhost/"
    tenant = Tenant.objects.get(slug="epsilon")
    assert user_of(tenant, "eve@epsilon.test").check_password("Silver-harbour-lamp-3")


def test_json_output(db, capsys):
    call_command("provision_tenant", *ARGS, "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["slug"] == "epsilon"
    assert data["schema"] == "t_epsilon"
    assert data["url"] == "http://epsilon.localhost/"
    assert data["state"] == "active"


def test_bad_input_is_a_clear_command_error(db):
    with pytest.raises(CommandError, match="slug: This address is reserved"):
        call_command(
            "provision_tenant", "--slug", "admin", "--name", "X",
            "--owner-email", "x@x.test", "--owner-password", "Silver-harbour-lamp-3",
        )  # fmt: skip
    with pytest.raises(CommandError, match="owner_password"):
        call_command(
            "provision_tenant", "--slug", "zeta", "--name", "Z",
            "--owner-email", "z@z.test", "--owner-password", "123",
        )  # fmt: skip
    assert not Tenant.objects.filter(slug__in=["admin", "zeta"]).exists()
