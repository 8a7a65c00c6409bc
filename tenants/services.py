"""The tenants module's write API: every change to a tenant goes through these."""

from .lifecycle import reactivate_tenant, suspend_tenant, transition
from .provisioning import ProvisionedWorkspace, provision_tenant, validate_signup

__all__ = [
    "ProvisionedWorkspace",
    "provision_tenant",
    "reactivate_tenant",
    "suspend_tenant",
    "transition",
    "validate_signup",
]
