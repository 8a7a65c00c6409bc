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
from .handoff import create_owner, make_handoff_token, redeem_handoff_token
from .security import (
    lockout_record,
    recovery_codes_regenerate,
    second_factor_verify,
    totp_enable,
    totp_setup_device,
    two_factor_disable,
    workspace_policy_update,
)
from .sessions import (
    end_all_sessions,
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

__all__ = [
    "InvitationError",
    "InviteResult",
    "create_owner",
    "email_change_confirm",
    "email_change_request",
    "end_all_sessions",
    "invitation_accept",
    "invitation_check",
    "invitation_resend",
    "invitation_revoke",
    "lockout_record",
    "make_handoff_token",
    "parse_emails",
    "password_change",
    "password_reset_complete",
    "password_reset_request",
    "profile_update",
    "recovery_codes_regenerate",
    "redeem_handoff_token",
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
    "totp_enable",
    "totp_setup_device",
    "two_factor_disable",
    "workspace_policy_update",
]
