"""The workspace home page: what is going on in the workspace.

It shows every package's state (seats, storage, scans, the audit log, 2FA), so it
lives here, in the composition root, above the packages it reads; it only calls
their selectors and assembles the answers. Bounded: a fixed number of queries
whatever the workspace's size (``tests/test_dashboard.py`` counts them).
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

import audit.selectors
from accounts import selectors as accounts
from billing import selectors as billing
from core.workspace import current as current_workspace
from tenants.selectors import current_tenant
from uploads import selectors as uploads

RECENT_EVENTS = 8
RECENT_DOCUMENTS = 5


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    principal = request.principal
    me = accounts.acting_user(principal)
    is_admin = accounts.is_workspace_admin(principal)
    context: dict = {
        "is_admin": is_admin,
        "recent_events": audit.selectors.recent_events(
            tenant=current_workspace(), user=principal, limit=RECENT_EVENTS
        ),
    }
    if not is_admin:
        context.update(
            my_documents=uploads.recent_documents(uploaded_by=me, limit=RECENT_DOCUMENTS),
            can_upload=accounts.can_write(principal),
            has_two_factor=accounts.has_two_factor(me),
        )
    else:
        plan = billing.plan_for(current_tenant())  # read once for seats and storage
        seats = accounts.seat_usage(plan=plan)
        limits = uploads.limits_of(plan)
        context.update(
            seats=seats,
            limits=limits,
            storage_percent=min(100, round(100 * limits.used_bytes / limits.quota_bytes))
            if limits.quota_bytes
            else 0,
            waiting=uploads.waiting_count(),
            blocked=uploads.blocked_documents().count(),
            posture=accounts.security_posture(),
            # Nobody but the owner yet: the first steps are the whole page's point.
            first_steps=seats.active <= 1 and seats.pending == 0,
        )
    return render(request, "dashboard.html", context)
