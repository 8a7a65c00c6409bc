"""kombu's Redis transport, made to survive a broker outage with tasks in flight
(``CELERY_BROKER_TRANSPORT = "config.broker:Transport"``).

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


class Transport(redis.Transport):
    Channel = Channel
