"""The offboarding module's write API: export a workspace, schedule its deletion,
restore it within the grace period, purge it afterwards, release its address.

Every service is keyword-only, takes the acting principal (``actor``), checks the
vendor role it needs (``core.principal.require_vendor_role``; the system passes),
and records its event in the workspace's own chain and in the platform's, in the
transaction of its change. Nobody in a support session (or an app acting for a
user) can export: an impersonated principal is refused outright.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

import audit.services as audit
import backups.services as backups
from accounts.selectors import owner_recipients, workspace_policy
from core.errors import required_reason
from core.outbox import send_after_commit
from core.principal import Principal, require_vendor_role, write_service
from core.queue import task
from tenants import schemas
from tenants.selectors import Tenant
from tenants.services import forget_tenant, tenant_address_release, tenant_transition
from uploads import storage as object_storage

from . import archive, storage
from .models import Deletion, Export

__all__ = [
    "ExportLink",
    "OffboardingError",
    "deletion_purge",
    "deletion_restore",
    "deletion_schedule",
    "deletions_purge_due",
    "export_build",
    "export_download",
    "export_request",
    "exports_expire",
    "exports_requeue_stale",
    "slug_release",
]

logger = logging.getLogger(__name__)

EXPORT_ROLE = "support"
DELETION_ROLE = "admin"
_LOCK_CLASS = 0x4F464642  # "OFFB": advisory-lock namespace of purges
PURGE_STEPS = ("state", "exports", "documents", "quarantine", "backups", "schema", "final")
RELEASED_SLUG = "-deleted-{pk}"  # not a valid workspace address, so never taken again


class OffboardingError(Exception):
    """An action that cannot go on; the message says why."""


class _PlatformChain:
    """``audit.record``'s ``tenant`` for the platform's own chain."""

    schema_name = ""
    pk = None


PLATFORM = _PlatformChain()


def _record_both(action: str, *, actor: Principal, tenant: Tenant, changes: dict) -> None:
    """The event in the workspace's chain and in the platform's (same transaction)."""
    audit.record(action, actor=actor, target=tenant, tenant=tenant, changes=changes)
    audit.record(action, actor=actor, target=tenant, tenant=PLATFORM, changes=changes)


def _reason(reason: str) -> str:
    reason = required_reason(reason)
    if len(reason) > 500:
        raise ValidationError({"reason": [_("Keep the reason under 500 characters.")]})
    return reason


def _refuse_impersonation(actor: Principal) -> None:
    if actor.audit_impersonator is not None:
        raise PermissionDenied(_("Exports cannot be made or downloaded in a support session."))


def _is_owner_of(actor: Principal, tenant: Tenant) -> bool:
    """A workspace owner, acting as themselves inside their own workspace."""
    from core.workspace import current

    user = getattr(actor, "acting_user", None)
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "role", "") == "owner"
        and current().schema_name == tenant.schema_name
        and actor.audit_actor.type == "user"
    )


def _require_exporter(actor: Principal, tenant: Tenant) -> None:
    _refuse_impersonation(actor)
    if _is_owner_of(actor, tenant):
        return
    if actor.audit_actor.type == "user":
        raise PermissionDenied(_("Only the workspace's owners can export it."))
    require_vendor_role(actor, EXPORT_ROLE)


def _tenant(tenant_id: int, *, lock: bool = False) -> Tenant:
    rows = Tenant.objects.select_for_update() if lock else Tenant.objects
    tenant = rows.filter(pk=tenant_id).first()
    if tenant is None:
        raise ValidationError(_("No such workspace."))
    return tenant


# --- export ---------------------------------------------------------------------------

EXPORTABLE = {
    Tenant.State.ACTIVE,
    Tenant.State.SUSPENDED,
    Tenant.State.SCHEDULED_FOR_DELETION,
}


@write_service(read_only_workspace_ok=True)
def export_request(*, actor: Principal, tenant_id: int, reason: str) -> Export:
    """Queue a complete export of the workspace (``offboarding.tasks.build_export``).

    Vendor staff (support or higher) or the workspace's own owners; never in a support
    session. Records ``workspace.export_requested``."""
    with transaction.atomic():
        tenant = _tenant(tenant_id, lock=True)
        _require_exporter(actor, tenant)
        reason = _reason(reason)
        if tenant.state not in EXPORTABLE:
            raise ValidationError(_("This workspace can no longer be exported."))
        if Export.objects.filter(
            tenant=tenant, status__in=[Export.Status.PENDING, Export.Status.RUNNING]
        ).exists():
            raise ValidationError(_("An export of this workspace is already being written."))
        export = Export.objects.create(
            tenant=tenant,
            schema_name=tenant.schema_name,
            reason=reason,
            requested_by=actor.audit_actor.display,
        )
        _record_both(
            "workspace.export_requested", actor=actor, tenant=tenant,
            changes={"export_id": str(export.pk), "reason": reason},
        )  # fmt: skip
        export_id = str(export.pk)
        transaction.on_commit(lambda: _queue_build(export_id))
    return export


def _queue_build(export_id: str) -> None:
    try:
        task("offboarding.tasks.build_export").delay(export_id)
    except Exception:  # the broker is down: exports_requeue_stale queues it again
        logger.exception("could not queue export %s", export_id)


# An export waiting this long lost its message; one running this long lost its worker.
PENDING_STALE = timedelta(minutes=5)
RUNNING_STALE = timedelta(hours=2)


@write_service
def exports_requeue_stale(*, actor: Principal, now: datetime | None = None) -> int:
    """Queue again the exports whose message was lost (broker down when they were
    asked for) or whose worker died mid-way (the system's periodic task). Returns how
    many were queued."""
    require_vendor_role(actor, DELETION_ROLE)
    now = now or timezone.now()
    stale = Export.objects.filter(
        models.Q(status=Export.Status.PENDING, created_at__lt=now - PENDING_STALE)
        | models.Q(status=Export.Status.RUNNING, started_at__lt=now - RUNNING_STALE)
    )
    ids = [str(pk) for pk in stale.values_list("pk", flat=True)]
    for export_id in ids:
        _queue_build(export_id)
    return len(ids)


def _workspace_settings(tenant: Tenant) -> dict:
    """``workspace.json``: the workspace row and its settings."""
    from billing.selectors import plan_for

    plan = plan_for(tenant)
    return {
        "name": tenant.name,
        "slug": tenant.slug,
        "schema": tenant.schema_name,
        "state": tenant.state,
        "owner_email": tenant.owner_email,
        "created_at": tenant.created_at,
        "plan": getattr(plan, "name", None),
        "read_only_reasons": list(getattr(tenant, "read_only_reasons", None) or []),
        "settings": {
            "require_2fa": workspace_policy().require_2fa,
            "audit_retention_days": audit.retention_days(chain=tenant.schema_name),
        },
    }


@write_service
def export_build(*, actor: Principal, export_id: str) -> Export:
    """Write the archive of a queued export (the task's work; the system only).

    Verifies the workspace's audit chain first (the report goes in the archive), then
    streams the archive into the exports storage. Records ``workspace.export_completed``
    or, on failure, ``workspace.export_failed`` (and raises)."""
    if actor.audit_actor.type != "system":
        raise PermissionDenied(_("Exports are written by the system."))
    with transaction.atomic():
        export = Export.objects.select_for_update().get(pk=export_id)
        if export.status in {Export.Status.DONE, Export.Status.PURGED, Export.Status.FAILED}:
            return export
        if export.status == Export.Status.RUNNING and export.started_at > timezone.now() - (
            RUNNING_STALE
        ):
            return export  # a duplicate message: another worker is writing it
        export.status = Export.Status.RUNNING
        export.started_at = timezone.now()
        export.storage_key = storage.export_key(export.schema_name, export.pk)
        export.save(update_fields=["status", "started_at", "storage_key"])
    tenant = export.tenant
    connection.set_schema_to_public()
    verification = audit.verify_chain(chain=tenant.schema_name).as_dict()
    verification["verified_at"] = timezone.now()
    target = storage.exports_storage()
    writer = storage.ArchiveWriter(target, export.storage_key)
    try:
        with schema_context(tenant.schema_name):
            workspace = _workspace_settings(tenant)
            manifest = archive.write_archive(
                writer, tenant=tenant, export_id=str(export.pk),
                requested_by=export.requested_by, verification=verification,
                settings_=workspace,
            )  # fmt: skip
        writer.commit()
    except Exception as exc:
        writer.abort()
        connection.set_schema_to_public()
        with transaction.atomic():
            Export.objects.filter(pk=export.pk).update(
                status=Export.Status.FAILED, finished_at=timezone.now(),
                error=type(exc).__name__[:500],
            )  # fmt: skip
            _record_both(
                "workspace.export_failed", actor=actor, tenant=tenant,
                changes={"export_id": str(export.pk), "error": type(exc).__name__},
            )  # fmt: skip
        raise
    finally:
        writer.close()
    connection.set_schema_to_public()
    with transaction.atomic():
        export.status = Export.Status.DONE
        export.size = writer.size
        export.sha256 = writer.sha256
        export.documents = manifest["documents"]["count"]
        export.finished_at = timezone.now()
        export.save(update_fields=["status", "size", "sha256", "documents", "finished_at"])
        _record_both(
            "workspace.export_completed", actor=actor, tenant=tenant,
            changes={"export_id": str(export.pk), "size": export.size, "sha256": export.sha256,
                     "documents": export.documents, "audit_ok": verification["ok"]},
        )  # fmt: skip
    return export


@write_service
def exports_expire(*, actor: Principal, now: datetime | None = None) -> int:
    """Delete the archives of exports finished more than ``OFFBOARDING_EXPORT_KEEP_DAYS``
    ago (a whole workspace's data should not wait in storage); their rows stay, marked
    removed. Records ``workspace.export_expired``. Returns how many."""
    require_vendor_role(actor, DELETION_ROLE)
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OFFBOARDING_EXPORT_KEEP_DAYS)
    target = storage.exports_storage()
    expired = 0
    due = Export.objects.filter(status=Export.Status.DONE, finished_at__lt=cutoff)
    for export_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            export = (
                Export.objects.select_for_update()
                .select_related("tenant")
                .filter(pk=export_id, status=Export.Status.DONE)
                .first()
            )
            if export is None:
                continue
            storage.delete_object(target, export.storage_key)
            export.status = Export.Status.PURGED
            export.save(update_fields=["status"])
            _record_both(
                "workspace.export_expired", actor=actor, tenant=export.tenant,
                changes={"export_id": str(export.pk)},
            )  # fmt: skip
        expired += 1
    return expired


@dataclass(frozen=True)
class ExportLink:
    """Where to fetch an export: a presigned URL (S3), else the storage key to stream."""

    export: Export
    url: str
    expires_at: datetime
    filename: str

    @property
    def streamed(self) -> bool:
        return not self.url


def export_link_ttl() -> int:
    return max(1, min(int(settings.OFFBOARDING_EXPORT_URL_TTL), 3600))


def export_download(*, actor: Principal, export_id: str) -> ExportLink:
    """A short-lived link to a finished export, for vendor staff (support or higher) or
    the workspace's owners; records ``workspace.export_downloaded`` in both chains."""
    export = Export.objects.select_related("tenant").filter(pk=export_id).first()
    if export is None:
        raise ValidationError(_("No such export."))
    _require_exporter(actor, export.tenant)
    if export.status != Export.Status.DONE:
        raise ValidationError(_("This export is not ready to download."))
    ttl = export_link_ttl()
    expires_at = timezone.now() + timedelta(seconds=ttl)
    filename = f"{export.tenant.slug}-export-{export.created_at:%Y%m%d-%H%M%S}.zip"
    target = storage.exports_storage()
    url = ""
    if storage.is_s3(target):
        url = storage.presigned_url(target, export.storage_key, expires_in=ttl, filename=filename)
    with transaction.atomic():
        _record_both(
            "workspace.export_downloaded", actor=actor, tenant=export.tenant,
            changes={"export_id": str(export.pk), "link_expires_at": expires_at},
        )  # fmt: skip
    return ExportLink(export=export, url=url, expires_at=expires_at, filename=filename)


def open_export(export: Export):
    """A stream of a finished export's bytes (the filesystem storage's download)."""
    return storage.open_export(storage.exports_storage(), export.storage_key)


# --- scheduled deletion and restore ------------------------------------------------------


def _owners(tenant: Tenant) -> list[tuple[str, str]]:
    """``(email, language)`` of the workspace's active owners."""
    with schema_context(tenant.schema_name):
        return owner_recipients()


def _mail_owners(tenant: Tenant, template: str, context: dict) -> None:
    for email, language in _owners(tenant):
        send_after_commit(
            to=email, template=template, language=language,
            context={"workspace": tenant.name, "slug": tenant.slug, **context},
        )  # fmt: skip


@write_service
def deletion_schedule(
    *, actor: Principal, tenant_id: int, reason: str, grace_days: int | None = None
) -> Deletion:
    """Schedule the workspace's deletion after a grace period (``OFFBOARDING_GRACE_DAYS``,
    30 by default): it becomes unavailable at once (routing shows a clear page), its
    owners are emailed, and it can be restored until the purge. Admin vendor staff."""
    require_vendor_role(actor, DELETION_ROLE)
    reason = _reason(reason)
    days = settings.OFFBOARDING_GRACE_DAYS if grace_days is None else int(grace_days)
    if days < 0:
        raise ValidationError({"grace_days": [_("The grace period cannot be negative.")]})
    with transaction.atomic():
        tenant = _tenant(tenant_id, lock=True)
        if tenant.state not in {Tenant.State.ACTIVE, Tenant.State.SUSPENDED}:
            raise ValidationError(_("Only an active or suspended workspace can be scheduled."))
        previous = tenant.state
        purge_after = timezone.now() + timedelta(days=days)
        tenant_transition(
            actor=actor, tenant=tenant, to=Tenant.State.SCHEDULED_FOR_DELETION, reason=reason
        )
        deletion = Deletion.objects.create(
            tenant=tenant, schema_name=tenant.schema_name, slug=tenant.slug, reason=reason,
            requested_by=actor.audit_actor.display, previous_state=previous,
            purge_after=purge_after,
        )  # fmt: skip
        _record_both(
            "workspace.deletion_scheduled", actor=actor, tenant=tenant,
            changes={"reason": reason, "grace_days": days, "purge_after": purge_after,
                     "state_before": previous},
        )  # fmt: skip
        _mail_owners(
            tenant, "offboarding/email/deletion_scheduled",
            {"purge_after": purge_after, "reason": reason, "days": days},
        )  # fmt: skip
    return deletion


@write_service
def deletion_restore(*, actor: Principal, tenant_id: int, reason: str) -> Tenant:
    """Bring a workspace scheduled for deletion back, within its grace period, in the
    state it had before (active or suspended; its data was never touched). Admin."""
    require_vendor_role(actor, DELETION_ROLE)
    reason = _reason(reason)
    with transaction.atomic():
        tenant = _tenant(tenant_id, lock=True)
        deletion = (
            Deletion.objects.select_for_update()
            .filter(tenant=tenant, restored_at__isnull=True, purged_at__isnull=True)
            .first()
        )
        if deletion is None or tenant.state != Tenant.State.SCHEDULED_FOR_DELETION:
            raise ValidationError(_("This workspace is not scheduled for deletion."))
        if deletion.purge_started_at is not None or timezone.now() >= deletion.purge_after:
            raise ValidationError(_("The grace period is over: the workspace is being deleted."))
        tenant_transition(actor=actor, tenant=tenant, to=deletion.previous_state, reason=reason)
        deletion.restored_at = timezone.now()
        deletion.restore_reason = reason
        deletion.save(update_fields=["restored_at", "restore_reason"])
        _record_both(
            "workspace.deletion_cancelled", actor=actor, tenant=tenant,
            changes={"reason": reason, "state_after": deletion.previous_state},
        )  # fmt: skip
        _mail_owners(tenant, "offboarding/email/deletion_cancelled", {"reason": reason})
    return tenant


# --- purge ---------------------------------------------------------------------------------


@contextmanager
def _purge_lock(schema: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [_LOCK_CLASS, schema])
        if not cursor.fetchone()[0]:
            raise OffboardingError(f"another purge of {schema} is running")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [_LOCK_CLASS, schema])


def _step_done(deletion: Deletion, step: str) -> None:
    deletion.steps_done = [*deletion.steps_done, step]
    Deletion.objects.filter(pk=deletion.pk).update(
        steps_done=deletion.steps_done, objects_deleted=deletion.objects_deleted
    )


def _delete_prefix(deletion: Deletion, target, prefix: str) -> None:
    """Delete every object under ``prefix``, counting as it goes (resumable: a crash
    leaves the rest, which the next run lists again; the count so far is kept)."""
    done = 0
    try:
        for key in list(storage.list_keys(target, prefix)):
            storage.delete_object(target, key)
            done += 1
            if done % 100 == 0:
                Deletion.objects.filter(pk=deletion.pk).update(
                    objects_deleted=deletion.objects_deleted + done
                )
    finally:
        deletion.objects_deleted += done
        Deletion.objects.filter(pk=deletion.pk).update(objects_deleted=deletion.objects_deleted)
    storage.remove_empty_dirs(target, prefix)


@write_service
def deletion_purge(*, actor: Principal, deletion_id: int, now: datetime | None = None) -> Deletion:
    """Remove a workspace for good once its grace period is over: state ``deleted``, its
    exports, documents and quarantine objects, its backups (``backups.backups_purge``),
    its schema; its audit chain stays and gets a final signed checkpoint; its address is
    released after ``OFFBOARDING_SLUG_QUARANTINE_DAYS``. Idempotent and resumable: each
    finished step is recorded, and a run after a crash finishes the rest. System or admin
    staff."""
    require_vendor_role(actor, DELETION_ROLE)
    now = now or timezone.now()
    deletion = Deletion.objects.select_related("tenant").get(pk=deletion_id)
    if deletion.purged_at is not None:
        # A crash after the last step may have missed the checkpoint (a no-op if made).
        audit.checkpoint_chain(chain=deletion.schema_name)
        return deletion
    if deletion.restored_at is not None:
        raise ValidationError(_("This workspace was restored: it is not deleted."))
    if now < deletion.purge_after:
        raise ValidationError(_("The grace period is not over yet."))
    tenant = deletion.tenant
    connection.set_schema_to_public()
    with _purge_lock(deletion.schema_name):
        if deletion.purge_started_at is None:
            deletion.purge_started_at = now
            Deletion.objects.filter(pk=deletion.pk).update(purge_started_at=now)
        try:
            _purge_steps(actor, deletion, tenant, now)
        except Exception as exc:
            Deletion.objects.filter(pk=deletion.pk).update(last_error=type(exc).__name__[:500])
            raise
    audit.checkpoint_chain(chain=deletion.schema_name)  # the final signed checkpoint
    return deletion


def _purge_steps(actor: Principal, deletion: Deletion, tenant: Tenant, now: datetime) -> None:
    schema = deletion.schema_name
    done = set(deletion.steps_done)
    if "state" not in done:
        with transaction.atomic():
            if Tenant.objects.select_for_update().get(pk=tenant.pk).state != Tenant.State.DELETED:
                tenant_transition(
                    actor=actor, tenant=tenant, to=Tenant.State.DELETED,
                    reason=_("Grace period over: %(reason)s") % {"reason": deletion.reason},
                )  # fmt: skip
            _step_done(deletion, "state")
    if "exports" not in done:
        _delete_prefix(deletion, storage.exports_storage(), storage.export_prefix(schema))
        Export.objects.filter(tenant=tenant).exclude(status=Export.Status.PURGED).update(
            status=Export.Status.PURGED
        )
        _step_done(deletion, "exports")
    if "documents" not in done:
        documents = object_storage.documents_storage()
        _delete_prefix(deletion, documents, f"tenants/{schema}/")
        _step_done(deletion, "documents")
    if "quarantine" not in done:
        quarantine = object_storage.quarantine_storage()
        _delete_prefix(deletion, quarantine, f"{schema}/")
        _step_done(deletion, "quarantine")
    if "backups" not in done:
        # Backups' own service: its files (sets and objects), restored-aside schemas and
        # rows; resumable the same way (a re-run lists what is left).
        deletion.objects_deleted += backups.backups_purge(actor=actor, tenant=tenant)
        _step_done(deletion, "backups")
    if "schema" not in done:
        with transaction.atomic():
            # Deferred foreign-key checks of rows written in this transaction (a caller's
            # own) would make PostgreSQL refuse the DROP: run them now.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            schemas.drop_schema(schema)
            _step_done(deletion, "schema")
    with transaction.atomic():
        release_after = now + timedelta(days=settings.OFFBOARDING_SLUG_QUARANTINE_DAYS)
        deletion.purged_at = timezone.now()
        deletion.slug_release_after = release_after
        deletion.last_error = ""
        _step_done(deletion, "final")
        Deletion.objects.filter(pk=deletion.pk).update(
            purged_at=deletion.purged_at, slug_release_after=release_after, last_error=""
        )
        _record_both(
            "workspace.purged", actor=actor, tenant=tenant,
            changes={"objects": deletion.objects_deleted, "schema": schema,
                     "reason": deletion.reason, "slug_release_after": release_after},
        )  # fmt: skip
    transaction.on_commit(lambda: forget_tenant(tenant))


@write_service
def slug_release(*, actor: Principal, deletion_id: int, now: datetime | None = None) -> Deletion:
    """Free a purged workspace's address once ``slug_release_after`` has passed: its
    domains are removed and its row's slug becomes ``-deleted-<id>``. The row, its schema
    name and with it the audit chain's name stay reserved, so a new workspace of the
    same address gets a chain of its own. System or admin staff."""
    require_vendor_role(actor, DELETION_ROLE)
    now = now or timezone.now()
    with transaction.atomic():
        deletion = Deletion.objects.select_for_update().select_related("tenant").get(pk=deletion_id)
        if deletion.slug_released_at is not None:
            return deletion
        if deletion.purged_at is None or now < deletion.slug_release_after:
            raise ValidationError(_("This address is still in quarantine."))
        tenant = deletion.tenant
        old_slug = tenant_address_release(
            actor=actor, tenant=tenant, slug=RELEASED_SLUG.format(pk=tenant.pk),
            reason=_("The deleted workspace's quarantine is over."),
        )  # fmt: skip
        deletion.slug_released_at = now
        deletion.save(update_fields=["slug_released_at"])
        _record_both("workspace.slug_released", actor=actor, tenant=tenant,
                     changes={"slug": old_slug})  # fmt: skip
    return deletion


@write_service
def deletions_purge_due(*, actor: Principal, now: datetime | None = None) -> dict[str, int]:
    """The periodic sweep: purge every workspace whose grace period is over (and finish
    any purge a crash interrupted), then release the addresses out of quarantine. One
    failure is logged and left for the next run; the others go on."""
    require_vendor_role(actor, DELETION_ROLE)
    now = now or timezone.now()
    result = {"purged": 0, "failed": 0, "released": 0}
    due = Deletion.objects.filter(
        restored_at__isnull=True, purged_at__isnull=True, purge_after__lte=now
    ).order_by("purge_after")
    for deletion_id in list(due.values_list("pk", flat=True)):
        try:
            deletion_purge(actor=actor, deletion_id=deletion_id, now=now)
            result["purged"] += 1
        except Exception:
            logger.exception("purge of deletion %s failed; the next run goes on", deletion_id)
            result["failed"] += 1
    releasable = Deletion.objects.filter(
        purged_at__isnull=False, slug_released_at__isnull=True, slug_release_after__lte=now
    )
    for deletion_id in list(releasable.values_list("pk", flat=True)):
        slug_release(actor=actor, deletion_id=deletion_id, now=now)
        result["released"] += 1
    return result
