"""The audit actions of the vendor console: vendor staff, fleet reads, lifecycle actions.

Lifecycle actions are recorded twice: the console's event in the platform's chain (who,
with which role, why), and the tenants service's own event in the workspace's chain.
"""

from typing import Any

from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from audit.registry import declare

ROLE_NAMES = {
    "viewer": _("Viewer"),
    "support": _("Support"),
    "billing": _("Billing"),
    "admin": _("Admin"),
}


def _display(key: str, value: Any) -> str:
    if key in {"role", "vendor_role"} and value in ROLE_NAMES:
        return str(ROLE_NAMES[value])
    if isinstance(value, bool):
        return _g("yes") if value else _g("no")
    return "—" if value in (None, "") else str(value)


def _staff(name: str, description, sentence) -> None:
    declare(
        name, target="accounts.user", description=description, sentence=sentence, display=_display
    )


def _workspace(name: str, description, sentence) -> None:
    declare(
        name, target="tenants.tenant", description=description, sentence=sentence, display=_display
    )


_staff(
    "console.staff_created",
    _("A vendor staff account was created with a console role."),
    _("%(actor)s created the vendor account %(target)s as %(role)s"),
)
_staff(
    "console.staff_invited",
    _("A vendor staff member was invited to the console."),
    _("%(actor)s invited %(target)s to the console as %(role)s"),
)
_staff(
    "console.staff_invitation_accepted",
    _("An invited vendor staff member chose their password."),
    _("%(actor)s accepted the console invitation"),
)
_staff(
    "console.staff_role_changed",
    _("A vendor staff member's console role was changed."),
    _("%(actor)s changed %(target)s's console role from %(role_before)s to %(role_after)s"),
)
_staff(
    "console.staff_deactivated",
    _("A vendor staff account was deactivated."),
    _("%(actor)s deactivated the vendor account %(target)s: %(reason)s"),
)
_staff(
    "console.staff_reactivated",
    _("A vendor staff account was reactivated."),
    _("%(actor)s reactivated the vendor account %(target)s: %(reason)s"),
)
declare(
    "console.fleet_searched",
    target="",
    description=_("Vendor staff searched or filtered the fleet of workspaces."),
    sentence=_("%(actor)s searched the fleet for “%(query)s”"),
)
_workspace(
    "console.workspace_viewed",
    _("Vendor staff opened the workspace's page in the console (its audit log included)."),
    _("%(actor)s viewed the workspace in the vendor console"),
)
_workspace(
    "console.workspace_suspended",
    _("Vendor staff suspended a workspace from the console."),
    _("%(actor)s suspended %(target)s from the console: %(reason)s"),
)
_workspace(
    "console.workspace_reactivated",
    _("Vendor staff reactivated a suspended workspace from the console."),
    _("%(actor)s reactivated %(target)s from the console: %(reason)s"),
)
_workspace(
    "console.workspace_frozen",
    _("Vendor staff made a workspace read-only (a vendor freeze)."),
    _("%(actor)s froze %(target)s (read-only): %(reason)s"),
)
_workspace(
    "console.trial_extended",
    _("Vendor staff moved a workspace's trial end from the console."),
    _("%(actor)s extended the trial of %(target)s to %(until)s: %(reason)s"),
)
_workspace(
    "console.plan_comped",
    _("Vendor staff gave a workspace a plan free of charge, until a date."),
    _("%(actor)s gave %(target)s the plan %(plan)s free until %(until)s: %(reason)s"),
)
_workspace(
    "console.workspace_unfrozen",
    _("Vendor staff lifted a vendor freeze."),
    _("%(actor)s lifted the freeze of %(target)s: %(reason)s"),
)
_workspace(
    "console.workspace_move_requested",
    _("Vendor staff asked to move a workspace's schema to another Citus worker node."),
    _("%(actor)s asked to move %(target)s from %(node_before)s to %(node_after)s: %(reason)s"),
)
_workspace(
    "console.workspace_move_failed",
    _("A move of a workspace's schema asked for in the console could not be made."),
    _("The move of %(target)s to %(node_after)s failed: %(reason)s"),
)
