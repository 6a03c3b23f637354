from __future__ import annotations

import pytest

from netmon.inventory import load
from netmon.sharding import Shard, ShardError
from tests.support import ROOT


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_partition_the_inventory(count: int) -> None:
    checks = load(ROOT / "config" / "communes.yaml").checks
    shards = [Shard(i, count).select(checks) for i in range(1, count + 1)]
    keys = [c.key for shard in shards for c in shard]
    assert sorted(keys) == sorted(c.key for c in checks)  # no gap
    assert len(keys) == len(set(keys))  # no overlap
    if count > 1:
        assert all(shard for shard in shards)  # every instance gets work


def test_shard_is_stable_for_a_key() -> None:
    checks = load(ROOT / "config" / "communes.yaml").checks
    assert Shard(2, 3).select(checks) == Shard(2, 3).select(list(reversed(checks)))[::-1]


@pytest.mark.parametrize("value", ["0/3", "4/3", "3", "a/b", "1/0", ""])
def test_bad_shard_values_are_rejected(value: str) -> None:
    with pytest.raises(ShardError, match="expected I/N"):
        Shard.parse(value)
