"""Usage figures of every workspace, kept in the public schema (``WorkspaceUsage``).

The fleet page shows seats, storage, documents and last activity for thousands of
workspaces; computing them per request would visit every schema. Instead:

0. **Search text, at once.** Receivers on ``tenants.Tenant`` and ``tenants.Domain`` (re)write
   the row's ``search`` (name, slug, owner email, domains, lower case) and its copies of
   the tenant's name, state, read-only flag and plan (what the fleet filters and sorts
   on, each served by an index of this table) in the same transaction as the change,
   and create the row with a new workspace: every workspace has its row from its first
   commit, so the fleet is a query of this table alone.
1. **Marked stale after commit.** Receivers on the models that move the figures
   (accounts' users and invitations, uploads' documents) mark the workspace's usage row
   stale once the workspace's transaction commits (``stale_since``, set once: the
   UPDATE matches nothing while the row is already stale). A session being refreshed
   (at most once a minute per signed-in user) moves ``last_activity_at`` the same way.
   Nothing here can fail the workspace's own change: it runs after the commit, and
   errors are logged.
2. **Refreshed by a task.** ``console.tasks.refresh_stale_usage`` (every minute, beat)
   recomputes the stale rows, oldest first, a bounded batch per run: that is the
   debounce (a burst of 100 uploads costs one refresh). It clears ``stale_since`` only
   if nothing marked the row again meanwhile.
3. **Safety net.** ``console.tasks.refresh_all_usage`` (nightly) recomputes every
   workspace that holds data, and creates missing rows (a workspace made before the
   console existed, or a mark lost to a crash between commit and mark).
"""

import logging
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django_tenants.utils import schema_context

from core.workspace import current as current_workspace

from .models import WorkspaceUsage

log = logging.getLogger(__name__)

# Models whose changes move the figures (lazy references: no import of their packages).
FIGURE_MODELS = ("accounts.User", "accounts.Invitation", "uploads.Document")
ACTIVITY_MODEL = "accounts.UserSession"
# last_activity_at is not rewritten for less than this.
ACTIVITY_RESOLUTION = timedelta(minutes=1)

# A new row for each tenant the WHERE clause that follows selects: the search text (name,
# slug, owner email and domains, lower case) and the copies the fleet filters and sorts
# on; the figures zero and stale (not measured yet).
_NEW_ROWS_SQL = (
    "INSERT INTO console_workspaceusage (tenant_id, search, name, state, read_only, plan_id, "
    "active_staff, pending_invitations, seats_used, storage_bytes, documents_count, admins, "
    "stale_since, refreshed_at) "
    "SELECT t.id, lower(concat_ws(' ', t.name, t.slug, t.owner_email, "
    "(SELECT string_agg(d.domain, ' ' ORDER BY d.domain) FROM tenants_domain d "
    "WHERE d.tenant_id = t.id))), t.name, t.state, t.read_only_reasons <> '{}', t.plan_id, "
    "0, 0, 0, 0, 0, '[]'::jsonb, now(), now() "
    "FROM tenants_tenant t "
)
# The listing columns of any number of tenants (one statement; a missing row is created).
_SYNC_LISTING_SQL = _NEW_ROWS_SQL + (
    "WHERE t.id = ANY(%s) "
    "ON CONFLICT (tenant_id) DO UPDATE SET search = EXCLUDED.search, name = EXCLUDED.name, "
    "state = EXCLUDED.state, read_only = EXCLUDED.read_only, plan_id = EXCLUDED.plan_id "
    "WHERE (console_workspaceusage.search, console_workspaceusage.name, "
    "console_workspaceusage.state, console_workspaceusage.read_only, "
    "console_workspaceusage.plan_id) IS DISTINCT FROM "
    "(EXCLUDED.search, EXCLUDED.name, EXCLUDED.state, EXCLUDED.read_only, EXCLUDED.plan_id)"
)
# Marks the figures stale; a missing row is created with its listing columns.
_MARK_STALE_SQL = _NEW_ROWS_SQL + (
    "WHERE t.schema_name = %s "
    "ON CONFLICT (tenant_id) DO UPDATE SET stale_since = now() "
    "WHERE console_workspaceusage.stale_since IS NULL"
)
_TOUCH_SQL = (
    "UPDATE console_workspaceusage SET last_activity_at = %s "
    "WHERE tenant_id = (SELECT id FROM tenants_tenant WHERE schema_name = %s) "
    "AND (last_activity_at IS NULL OR last_activity_at < %s)"
)


def _run_after_commit(sql: str, params: list) -> None:
    def run() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
        except DatabaseError:
            # The workspace's change is committed; the nightly refresh catches up.
            log.warning("usage figures not marked stale", exc_info=True)

    transaction.on_commit(run)


def _figures_changed(sender, **kwargs) -> None:
    workspace = current_workspace()
    if not workspace.is_public:
        _run_after_commit(_MARK_STALE_SQL, [workspace.schema_name])


def _session_seen(sender, instance, **kwargs) -> None:
    workspace = current_workspace()
    if not workspace.is_public:
        seen = getattr(instance, "last_seen", None) or timezone.now()
        _run_after_commit(_TOUCH_SQL, [seen, workspace.schema_name, seen - ACTIVITY_RESOLUTION])


def sync_listing(tenant_ids: list[int]) -> None:
    """(Re)write the search text and the copied columns (name, state, read-only, plan) of
    the rows of ``tenant_ids`` from their tenants, creating missing rows (marked stale:
    not measured yet). One statement, in the caller's transaction."""
    if tenant_ids:
        with connection.cursor() as cursor:
            cursor.execute(_SYNC_LISTING_SQL, [list(tenant_ids)])


def _tenant_saved(sender, instance, raw=False, **kwargs) -> None:
    if not raw and instance.pk:
        sync_listing([instance.pk])


def _domain_changed(sender, instance, raw=False, **kwargs) -> None:
    if not raw and instance.tenant_id:
        sync_listing([instance.tenant_id])


def connect() -> None:
    """Connect the receivers (``ConsoleConfig.ready``)."""
    post_save.connect(
        _tenant_saved, sender="tenants.Tenant", weak=False, dispatch_uid="console.search.tenant"
    )
    post_save.connect(
        _domain_changed, sender="tenants.Domain", weak=False, dispatch_uid="console.search.domain"
    )
    post_delete.connect(
        _domain_changed, sender="tenants.Domain", weak=False, dispatch_uid="console.search.domain.d"
    )
    for label in FIGURE_MODELS:
        uid = f"console.usage.{label}"
        post_save.connect(_figures_changed, sender=label, weak=False, dispatch_uid=uid)
        post_delete.connect(_figures_changed, sender=label, weak=False, dispatch_uid=uid + ".d")
    post_save.connect(
        _session_seen, sender=ACTIVITY_MODEL, weak=False, dispatch_uid="console.usage.session"
    )


def measure(schema_name: str) -> dict:
    """The figures of the workspace in ``schema_name``, read inside its schema."""
    import accounts.selectors as accounts
    import uploads.selectors as uploads

    with schema_context(schema_name):
        seats = accounts.seat_usage()
        staff = accounts.staff_list(status="active")
        admins = [
            {"email": u.email, "name": u.full_name, "role": u.role}
            for u in staff.filter(role__in=accounts.STAFF_MANAGERS).order_by("role", "email")
        ]
        last_login = staff.aggregate(last=Max("last_login"))["last"]
        return {
            "active_staff": seats.active,
            "pending_invitations": seats.pending,
            "seats_used": seats.used,
            "storage_bytes": uploads.storage_used_bytes(),
            "documents_count": uploads.visible_documents().count(),
            "admins": admins,
            "last_login": last_login,
        }


def refresh(tenant) -> WorkspaceUsage:
    """Recompute ``tenant``'s row now (creating it when missing)."""
    sync_listing([tenant.pk])
    row = WorkspaceUsage.objects.get(pk=tenant.pk)
    marked = row.stale_since
    figures = measure(tenant.schema_name)
    last_login = figures.pop("last_login")
    if last_login and (row.last_activity_at is None or last_login > row.last_activity_at):
        figures["last_activity_at"] = last_login
    figures["refreshed_at"] = timezone.now()
    WorkspaceUsage.objects.filter(pk=tenant.pk).update(**figures)
    # Cleared only if nothing marked it again while we measured.
    WorkspaceUsage.objects.filter(pk=tenant.pk, stale_since=marked).update(stale_since=None)
    row.refresh_from_db()
    return row
