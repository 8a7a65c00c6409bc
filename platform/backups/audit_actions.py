"""The audit actions of backups and restores, recorded in the workspace's own chain."""

from django.utils.translation import gettext_lazy as _

from audit.registry import declare


def _tenant(name: str, description, sentence) -> None:
    declare(name, target="tenants.tenant", description=description, sentence=sentence)


_tenant(
    "tenant.backup_created",
    _("An encrypted backup of the workspace was made."),
    _("%(actor)s backed up the workspace (%(backup_id)s)"),
)
_tenant(
    "tenant.restored",
    _("The workspace was restored from a backup and swapped in."),
    _("%(actor)s restored the workspace from backup %(backup_id)s"),
)
_tenant(
    "tenant.restore_staged",
    _("A backup was restored beside the workspace, for inspection."),
    _("%(actor)s restored backup %(backup_id)s aside for inspection"),
)
_tenant(
    "tenant.restore_discarded",
    _("A schema restored aside (or replaced by a restore) was dropped."),
    _("%(actor)s dropped the restored schema %(schema)s"),
)
_tenant(
    "tenant.backups_pruned",
    _("Backups past their retention were deleted."),
    _("%(actor)s deleted old backups: %(removed)s"),
)
_tenant(
    "tenant.restore_drilled",
    _("The restore drill restored the newest backup aside, verified it and dropped it."),
    _("%(actor)s ran the restore drill on backup %(backup_id)s (passed: %(ok)s)"),
)
_tenant(
    "tenant.backups_purged",
    _("Every backup of the workspace was deleted, with the workspace."),
    _("%(actor)s deleted every backup of the workspace (%(files)s files)"),
)
