"""Cluster ids for the local broker's storage tool."""

import base64

from kafkatrade.stack.kafka_broker import new_cluster_id


def test_cluster_ids_are_16_random_bytes_and_never_look_like_an_option():
    # Regression: one id in 64 started with "-", and `StorageTool format -t -xyz` failed (CI).
    ids = [new_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
