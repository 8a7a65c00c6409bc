"""Shared bits of the backups commands."""

from django.core.management.base import CommandError

from core.principal import Principal, system
from tenants.selectors import Tenant


def command_actor(name: str) -> Principal:
    """Commands are run by the platform's operator: the system actor, named by command."""
    return system(f"manage.py {name}")


def tenant_for(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise CommandError(f"No workspace {slug!r}.")
    return tenant
