"""Publishing on the broker transport of config.broker: one Redis client per channel
(kombu builds one per message), still correct when Redis restarts in between."""

from config.broker import Channel
from core import queue

TASK = "billing.tasks.process_webhook_event"


def _queued(redis_server) -> int:
    return int(redis_server.command("LLEN", "celery").strip().lstrip(b":"))


def test_publishes_share_one_client_and_survive_a_redis_restart(app_on_broker, redis_server):
    task = queue.task(TASK)
    clients = []
    with app_on_broker.producer_pool.acquire(block=True) as producer:
        channel = producer.channel
        assert isinstance(channel, Channel)
        for n in range(3):
            task.apply_async(kwargs={"event_id": f"evt_{n}"}, producer=producer)
            clients.append(channel._command_client)
    assert _queued(redis_server) == 3
    assert clients[0] is not None and clients.count(clients[0]) == 3  # built once

    # A crash and restart (no persistence: the queue is gone): the kept client takes a
    # fresh connection from its pool; the next publish arrives.
    redis_server.stop()
    redis_server.start()
    with app_on_broker.producer_pool.acquire(block=True) as producer:
        task.apply_async(kwargs={"event_id": "evt_after"}, producer=producer)
    assert _queued(redis_server) == 1


def test_a_new_pool_gets_a_new_client(app_on_broker):
    with app_on_broker.connection_for_write() as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first:
            pass
        channel._pool = None  # what kombu does after a fork or a disconnect
        with channel.conn_or_acquire() as second:
            pass
        with channel.conn_or_acquire() as third:
            pass
        assert first is not second and second is third
        assert second.connection_pool is channel.pool
