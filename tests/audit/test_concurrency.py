"""Concurrent writers of one tenant: real transactions on their own connections.

Each thread records an event and then waits, inside its still-open
transaction, until every other thread has recorded too. Were ``record`` to take
a per-chain lock until commit, the threads could never all meet and the
barrier would time out. After commit, sealing runs concurrently in the threads;
the chain must hold every event exactly once and verify.
"""

import threading
import uuid

from django.db import close_old_connections, connections, transaction

import audit.services as audit
from audit.models import AuditChainLink, AuditEvent
from audit.services import verify_chain
from core.principal import SYSTEM
from tests.audit.conftest import FakeTenant

WRITERS = 6
ROUNDS = 5


def test_concurrent_writers_do_not_serialise_and_the_chain_stays_valid(db, settings):
    settings.AUDIT_SEAL_INTERVAL = 0  # seal after every commit: maximal contention
    tenant = FakeTenant(schema_name=f"c_{uuid.uuid4().hex[:12]}", pk=990_001)
    barrier = threading.Barrier(WRITERS, timeout=15)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for round_no in range(ROUNDS):
                with transaction.atomic():
                    audit.record(
                        "thing.done", actor=SYSTEM, tenant=tenant, changes={"w": n, "r": round_no}
                    )
                    barrier.wait()  # every writer is now inside an open transaction
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()
        finally:
            close_old_connections()
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    chain = tenant.schema_name
    # The writers' own after-commit seals linked everything, racing each other.
    assert AuditChainLink.objects.filter(chain=chain).count() == WRITERS * ROUNDS
    result = verify_chain(chain=chain, seal=False)
    assert (result.ok, result.first_bad) == (True, None)
    assert result.events == WRITERS * ROUNDS
    event_ids = set(AuditEvent.objects.filter(chain=chain).values_list("id", flat=True))
    links = list(AuditChainLink.objects.filter(chain=chain).order_by("seq"))
    assert [link.seq for link in links] == list(range(1, WRITERS * ROUNDS + 1))
    assert {link.event_id for link in links} == event_ids
