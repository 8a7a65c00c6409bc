"""The audit actions of exports and of a workspace's deletion, restore and purge.

Each is recorded twice: in the workspace's own chain and in the platform's."""

from django.utils.translation import gettext_lazy as _

from audit.registry import declare


def _tenant(name: str, description, sentence) -> None:
    declare(name, target="tenants.tenant", description=description, sentence=sentence)


_tenant(
    "workspace.export_requested",
    _("A complete export of the workspace was requested."),
    _("%(actor)s requested an export of the workspace: %(reason)s"),
)
_tenant(
    "workspace.export_completed",
    _("A complete export of the workspace was written to storage."),
    _("%(actor)s wrote the export %(export_id)s of the workspace (%(size)s bytes)"),
)
_tenant(
    "workspace.export_failed",
    _("A workspace export could not be written."),
    _("The export %(export_id)s of the workspace failed"),
)
_tenant(
    "workspace.export_downloaded",
    _("A download link of a workspace export was handed out."),
    _("%(actor)s downloaded the export %(export_id)s of the workspace"),
)
_tenant(
    "workspace.export_expired",
    _("A workspace export was deleted from storage after its retention period."),
    _("%(actor)s deleted the export %(export_id)s of the workspace after its retention period"),
)
_tenant(
    "workspace.deletion_scheduled",
    _("The workspace was scheduled for deletion after a grace period; it is unavailable."),
    _("%(actor)s scheduled the workspace %(target)s for deletion on %(purge_after)s: %(reason)s"),
)
_tenant(
    "workspace.deletion_cancelled",
    _("A workspace scheduled for deletion was restored within its grace period."),
    _("%(actor)s restored the workspace %(target)s: %(reason)s"),
)
_tenant(
    "workspace.purged",
    _("A workspace's schema and stored objects were removed for good; its audit log stays."),
    _("%(actor)s removed the workspace %(target)s for good (%(objects)s stored objects)"),
)
_tenant(
    "workspace.slug_released",
    _("A deleted workspace's address became free for a new workspace."),
    _("%(actor)s released the address %(slug)s of the deleted workspace %(target)s"),
)
