"""Moving a workspace between Citus nodes from the console, on plain PostgreSQL: the
action is the admin's, needs a reason, and says clearly that there is nowhere to move a
workspace; the page offers no dead form. The move itself is tested on a cluster
(tests/citus/test_console_move.py)."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError

import console.services as console
from tenants.models import Tenant
from tests.audit.helpers import capture_audit

from .conftest import make_vendor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["viewer", "support", "billing"])
def test_only_an_admin_may_ask_for_a_move(role, tenant_a):
    with capture_audit() as events, pytest.raises(PermissionDenied):
        console.workspace_move_request(
            actor=make_vendor(role), tenant_id=tenant_a.pk, to="", reason="rebalance"
        )
    with pytest.raises(PermissionDenied):
        console.workspace_move(actor=make_vendor(role), tenant_id=tenant_a.pk, to="h:1")
    assert events == []


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_move_needs_a_reason(reason, tenant_a):
    with capture_audit() as events, pytest.raises(ValidationError) as error:
        console.workspace_move_request(
            actor=make_vendor("admin"), tenant_id=tenant_a.pk, to="", reason=reason
        )
    assert "reason" in error.value.message_dict and events == []


def test_without_citus_a_move_is_refused_clearly_and_changes_nothing(tenant_a):
    with capture_audit() as events, pytest.raises(ValidationError) as error:
        console.workspace_move_request(
            actor=make_vendor("admin"), tenant_id=tenant_a.pk, to="", reason="rebalance"
        )
    assert error.value.messages == ["This database is not a Citus coordinator."]
    assert events == []
    with pytest.raises(ValidationError) as error:
        console.workspace_move_request(
            actor=make_vendor("admin"), tenant_id=tenant_a.pk, to="nowhere", reason="x"
        )
    assert "host:port" in error.value.messages[0]


def test_the_page_has_no_move_form_without_citus_and_a_post_says_why(vendor_factory, tenant_a):
    _admin, client = vendor_factory("admin")
    page = client.get(f"/console/w/{tenant_a.pk}/")
    assert page.status_code == 200 and page.context["cluster"] is None
    assert b'id="nodes"' not in page.content and b"/move/" not in page.content
    with capture_audit() as events:
        response = client.post(f"/console/w/{tenant_a.pk}/move/", {"to": "", "reason": "x"})
    assert response.status_code == 302 and events == []
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["This database is not a Citus coordinator."]
    assert Tenant.objects.get(pk=tenant_a.pk).state == "active"


def test_the_move_page_is_refused_below_admin(vendor_factory, tenant_a):
    _support, client = vendor_factory("support")
    response = client.post(f"/console/w/{tenant_a.pk}/move/", {"to": "", "reason": "x"})
    assert response.status_code == 403
    assert client.get(f"/console/w/{tenant_a.pk}/").context["cluster"] is None


def test_a_form_error_comes_back_as_a_plain_message(vendor_factory, tenant_a):
    _admin, client = vendor_factory("admin")
    with capture_audit() as events:
        response = client.post(f"/console/w/{tenant_a.pk}/move/", {"to": "", "reason": ""})
    assert response.status_code == 302 and events == []
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["This field is required."]  # the message, not the error list's HTML
