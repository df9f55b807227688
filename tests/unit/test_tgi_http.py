"""The sharded connection pool's configuration (no sockets)."""

from __future__ import annotations

import pytest

from zephyr_integrations.backends.tgi import TGIBackend
from zephyr_integrations.backends.tgi_http import SHARD_SIZE, ShardedTransport


@pytest.mark.parametrize(
    ("connections", "shards"), [(1, 1), (SHARD_SIZE, 1), (SHARD_SIZE + 1, 2), (256, 16)]
)
def test_connections_are_split_into_small_pools(connections: int, shards: int) -> None:
    transport = ShardedTransport(connections)
    assert transport.shards == shards
    assert sum(s._pool._max_connections for s in transport._shards) >= connections  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [0, -3, 2.5, "many"])
def test_max_connections_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_connections"):
        TGIBackend(base_url="http://127.0.0.1:8080", max_connections=bad)  # type: ignore[arg-type]
