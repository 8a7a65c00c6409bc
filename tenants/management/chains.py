"""The ``--tenant SLUG`` / ``--platform`` choice of the audit commands, in one place.

The audit log knows chains by schema name; which workspace a slug names is the
tenants package's knowledge, so these commands live here.
"""

from django.core.management.base import CommandError

import audit.services as audit

from ..selectors import tenant_for_slug


def add_chain_arguments(parser, *, platform: bool = True) -> None:
    parser.add_argument("--tenant", metavar="SLUG", help="Only this workspace's chain.")
    if platform:
        parser.add_argument("--platform", action="store_true", help="Only the platform's chain.")


def chosen_chains(*, tenant: str | None = None, platform: bool = False) -> list[str]:
    """The chains the options name: one workspace's, the platform's (""), or all."""
    if tenant:
        found = tenant_for_slug(tenant)
        if found is None:
            raise CommandError(f"No workspace with the address {tenant!r}.")
        return [found.schema_name]
    if platform:
        return [""]
    return audit.known_chains()
