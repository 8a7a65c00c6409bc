"""The Redis cache backend keeps one redis-py client per connection pool
(``config.cache.SharedClientRedisCacheClient``) instead of building one per call."""

from django.core.cache import caches


def test_every_call_goes_through_the_same_client_and_works():
    cache = caches["default"]
    client = cache._cache.get_client()
    cache.set("shared-client-probe", {"n": 1}, 30)
    assert cache.get("shared-client-probe") == {"n": 1}
    assert cache.delete("shared-client-probe")
    assert cache.get("shared-client-probe") is None
    # One server: reads and writes share its pool, and so its client.
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client
    assert client.connection_pool is cache._cache._get_connection_pool(True)


def test_each_cache_has_its_own_client():
    default, routing = caches["default"], caches["routing"]
    assert default._cache.get_client() is not routing._cache.get_client()
