"""kombu's Redis transport, made to survive a broker outage with tasks in flight
(``CELERY_BROKER_TRANSPORT = "config.broker:Transport"``), and to publish without
building a Redis client per message.

kombu 5.7.0 (the pinned version): when Redis goes away while the worker holds an
unacknowledged message (a scan running, or a retry waiting for its countdown), the
consumer closes its connection to reconnect, the channel's close asks its QoS to put the
unacknowledged messages back on the queue, and that opens a new Redis client from a
transport whose ``client`` is already ``None``: ``AttributeError: 'NoneType' object has
no attribute 'hostname'`` in ``Channel._connparams``. It is not one of the connection
errors the consumer expects, so it ends the worker ("Unrecoverable error").

The work-around is the one thing that cannot succeed at that moment anyway: with the
broker gone, the restore is skipped (logged), and the messages stay where Redis keeps
them, in the ``unacked`` hash, from which any worker restores them once the visibility
timeout has passed; if Redis lost them (no persistence), ``uploads`` queues what is still
waiting again when the worker is back (``uploads.tasks.recover_scans``). Remove this
module once kombu guards ``restore_unacked`` against a closed transport.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from kombu.transport import redis

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client=None):
        try:
            return super().restore_unacked(client)
        except (AttributeError, *self.channel.connection_errors) as exc:
            transport = self.channel.connection
            closed = transport is None or transport.client is None
            if not closed and not isinstance(exc, self.channel.connection_errors):
                raise  # a real bug, not the closed transport: do not hide it
            log.warning(
                "broker unreachable: %d unacknowledged message(s) left in Redis' unacked "
                "set, restored after the visibility timeout (%s)",
                len(self._delivered),
                exc.__class__.__name__,
            )
            self._delivered.clear()
            return None


class Channel(redis.Channel):
    QoS = QoS

    _command_client = None

    @contextmanager
    def conn_or_acquire(self, client=None) -> Iterator:
        """The client for a command sent outside the consumer's own (every publish).

        kombu 5.7.0 builds a new ``redis.Redis`` on the channel's pool each time: its
        constructor fills a table of about 170 response callbacks, a sixth of the CPU
        of a Celery publish (bench/billing.py). One client per channel and pool does
        the same: each command still takes a connection from that pool and gives it
        back (and redis-py replaces a connection the server closed), so nothing but
        the constructor call changes. A new pool (after a fork) gets a new client.
        """
        if client:
            yield client
            return
        pool = self.pool
        cached = self._command_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._command_client = self._create_client()
        yield cached


class Transport(redis.Transport):
    Channel = Channel
