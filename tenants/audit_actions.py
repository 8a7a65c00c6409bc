"""The audit actions of workspaces' lifecycle and the spare-schema pool."""

from django.utils.translation import gettext_lazy as _

from audit.registry import declare

declare(
    "tenant.created",
    target="tenants.tenant",
    description=_("A workspace was created by signup or by an operator."),
    sentence=_("%(actor)s created the workspace %(target)s"),
)
declare(
    "tenant.activated",
    target="tenants.tenant",
    description=_("A workspace was made available (again)."),
    sentence=_("%(actor)s activated the workspace %(target)s: %(reason)s"),
)
declare(
    "tenant.suspended",
    target="tenants.tenant",
    description=_("A workspace was suspended: nobody can use it until it is reactivated."),
    sentence=_("%(actor)s suspended the workspace %(target)s: %(reason)s"),
)
declare(
    "tenant.deletion_scheduled",
    target="tenants.tenant",
    description=_("A workspace was scheduled for deletion."),
    sentence=_("%(actor)s scheduled the workspace %(target)s for deletion: %(reason)s"),
)
declare(
    "tenant.deleted",
    target="tenants.tenant",
    description=_("A workspace was deleted."),
    sentence=_("%(actor)s deleted the workspace %(target)s: %(reason)s"),
)
declare(
    "tenant.access_restricted",
    target="tenants.tenant",
    description=_(
        "A workspace became read-only (billing or the vendor), or got one more reason to be."
    ),
    sentence=_("%(actor)s made the workspace %(target)s read-only: %(reason)s"),
)
declare(
    "tenant.access_restored",
    target="tenants.tenant",
    description=_("A reason for a workspace to be read-only was lifted."),
    sentence=_("%(actor)s lifted the read-only reason %(reason)s of the workspace %(target)s"),
)
declare(
    "tenant.plan_changed",
    target="tenants.tenant",
    description=_(
        "A workspace was put on another plan (billing: a subscription, a comp, a trial)."
    ),
    sentence=_("%(actor)s put the workspace %(target)s on the plan %(plan_after)s"),
)
declare(
    "tenant.spare_pool_refilled",
    target="",
    description=_("Pre-migrated spare schemas were added to the signup pool."),
    sentence=_("%(actor)s added %(created)s spare schemas to the signup pool"),
)
declare(
    "tenant.moved",
    target="tenants.tenant",
    description=_("The workspace's schema was moved, online, to another Citus worker node."),
    sentence=_("%(actor)s moved the workspace from %(node_before)s to %(node_after)s"),
)
declare(
    "tenant.address_released",
    target="tenants.tenant",
    description=_(
        "A deleted workspace's address was given up: its domains removed, its slug replaced."
    ),
    sentence=_("%(actor)s released the address %(slug_before)s of the deleted workspace"),
)
declare(
    "tenant.distributed",
    target="tenants.tenant",
    description=_("The workspace's schema became a distributed schema on a Citus worker."),
    sentence=_("%(actor)s distributed the workspace to %(node)s"),
)
