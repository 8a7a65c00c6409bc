"""The audit log's own actions."""

from django.utils.translation import gettext_lazy as _

from .registry import declare

declare(
    "audit.exported",
    target="",
    description=_("The audit log was exported (CSV or JSON Lines)."),
    sentence=_("%(actor)s exported the audit log as %(format)s"),
)
declare(
    "audit.retention_changed",
    target="tenants.tenant",
    description=_("How long the workspace's audit events are kept was changed."),
    sentence=_(
        "%(actor)s changed the audit retention from %(retention_days_before)s "
        "to %(retention_days_after)s days"
    ),
)
declare(
    "audit.db_roles_changed",
    target="audit.roles",
    description=_("The database roles that own and write the audit tables were changed."),
    sentence=_("%(actor)s gave the audit tables to the database role %(owner)s"),
)
