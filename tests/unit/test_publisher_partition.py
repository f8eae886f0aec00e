"""`send_many` puts a key on the partition aiokafka's default partitioner would (so per-key order holds
whichever way a message was sent)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from seqflow.messaging.publisher import partition_of


@given(key=st.binary(min_size=0, max_size=64), count=st.integers(min_value=1, max_value=64))
def test_partition_of_agrees_with_the_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partition_of(key, count) == DefaultPartitioner()(key, partitions, partitions)
