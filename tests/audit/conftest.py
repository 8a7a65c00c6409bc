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
