"""Fixtures of the audit tests."""

import uuid
from dataclasses import dataclass

import pytest


@dataclass
class FakeTenant:
    """Stands in for a Tenant where only its chain matters (``record(tenant=...)``)."""

    schema_name: str
    pk: int


@pytest.fixture
def lone_chain(db) -> FakeTenant:
    """A chain of its own, so a test sees only the events it writes."""
    return FakeTenant(schema_name=f"t_{uuid.uuid4().hex[:12]}", pk=990_000)


# Actions that only these tests record: declared once, as every package declares its own.
TEST_ACTIONS = [
    "thing.done", "old.done", "new.done", "later.done", "after.done", "old.thing",
    "placeholder.made",
    "forged.event", "real.event", "late.commit", "early.commit", "beta.only", "staff.renamed",
    "task.ran", "integration.updated", "workspace.renamed", "bulk.thing", "export.item",
    "other.item", "beta.secret",
]  # fmt: skip


def _declare_test_actions() -> None:
    from audit import registry

    for name in TEST_ACTIONS:
        if not registry.is_declared(name):
            registry.declare(name, target="", description=name, sentence="%(actor)s: " + name)


_declare_test_actions()
