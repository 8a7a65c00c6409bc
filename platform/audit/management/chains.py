"""The chains an audit command works on, from its ``--tenant``/``--platform`` options."""

from django.core.management.base import CommandError

from audit.chain import chain_of_workspace, known_chains


def chains_for(*, tenant: str | None = None, platform: bool = False) -> list[str]:
    """The chain of the workspace at ``tenant`` (a slug; ``CommandError`` when there is
    none), else the platform's chain (``platform``), else every known chain."""
    if tenant:
        chain = chain_of_workspace(tenant)
        if chain is None:
            raise CommandError(f"No workspace with the address {tenant!r}.")
        return [chain]
    if platform:
        return [""]
    return known_chains()
