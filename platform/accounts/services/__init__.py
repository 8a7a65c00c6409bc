"""Account use cases: the public face of ``accounts`` for writes.

Every function is keyword-only, checks permissions itself and records its audit
event in the same transaction as its change. Views, commands and tasks call
these; nothing else writes account rows.
"""

from .account import (
    email_change_confirm,
    email_change_request,
    password_change,
    password_reset_complete,
    password_reset_request,
    profile_update,
)
from .handoff import handoff_token_make, handoff_token_redeem, owner_create
from .security import (
    lockout_record,
    recovery_codes_regenerate,
    second_factor_verify,
    totp_device_setup,
    totp_enable,
    two_factor_disable,
    workspace_policy_update,
)
from .sessions import (
    session_forget,
    session_revoke,
    session_track,
    sessions_revoke_others,
)
from .staff import (
    InvitationError,
    InviteResult,
    invitation_accept,
    invitation_check,
    invitation_resend,
    invitation_revoke,
    parse_emails,
    staff_change_role,
    staff_deactivate,
    staff_invite,
    staff_reactivate,
    staff_reset_two_factor,
    staff_unlock,
)
from .vendor import vendor_staff_create

__all__ = [
    "InvitationError",
    "InviteResult",
    "email_change_confirm",
    "email_change_request",
    "handoff_token_make",
    "handoff_token_redeem",
    "invitation_accept",
    "invitation_check",
    "invitation_resend",
    "invitation_revoke",
    "lockout_record",
    "owner_create",
    "parse_emails",
    "password_change",
    "password_reset_complete",
    "password_reset_request",
    "profile_update",
    "recovery_codes_regenerate",
    "second_factor_verify",
    "session_forget",
    "session_revoke",
    "session_track",
    "sessions_revoke_others",
    "staff_change_role",
    "staff_deactivate",
    "staff_invite",
    "staff_reactivate",
    "staff_reset_two_factor",
    "staff_unlock",
    "totp_device_setup",
    "totp_enable",
    "two_factor_disable",
    "vendor_staff_create",
    "workspace_policy_update",
]
