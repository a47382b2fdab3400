"""Periodic snapshots written off the node's loop (BackgroundSnapshotWriter): every node
commits them while it keeps serving, a follower SIGKILLed meanwhile restarts from its own
snapshot, and, once the leader has compacted past it, catches up from the leader's.

Runs its own `keyraft dev` cluster with `snapshotEveryEntries: 10`, so that a few dozen
writes make several snapshots on every node."""
import time

import pytest

from keyraft_cluster import Cluster, keyraft_binary

CATCH_UP_SECONDS = 60


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("snapshots")
    first = Cluster(keyraft_binary(), work)
    first.start()
    problems = first.stop()
    assert not problems, problems
    for node in first.node_ids:
        with open(first.config_path(node), "a") as config:
            config.write("snapshotEveryEntries: 10\n")
    (first.dir / "endpoints").unlink()
    cluster = Cluster(keyraft_binary(), work)
    try:
        cluster.start()
        yield cluster
    finally:
        problems = cluster.stop()
        assert not problems, problems


def create_keys(cluster: Cluster, count: int, label: str, nodes: list[int] | None = None) -> list[str]:
    nodes = nodes or cluster.node_ids
    arns = []
    for i in range(count):
        client = cluster.client(nodes[i % len(nodes)])
        arns.append(client.create_key(Description=f"{label} {i}")["KeyMetadata"]["Arn"])
    return arns


def test_snapshots_are_written_in_the_background_and_a_lagging_follower_catches_up(cluster):
    arns = create_keys(cluster, 40, "before")
    for node in cluster.node_ids:
        cluster.wait_log(node, "committed=true", more_than=0, timeout=30)
        assert cluster.log_count(node, "storage failed") == 0

    follower = cluster.followers()[0]
    cluster.kill_node(follower)
    # More writes than the leader keeps after a snapshot (100 entries): the follower's next
    # entry is compacted away on the leader, which must send its snapshot.
    later = create_keys(cluster, 150, "while a follower is down", [n for n in cluster.node_ids if n != follower])
    cluster.start_node(follower)
    client = cluster.client(follower)
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        try:
            client.describe_key(KeyId=later[-1])
            break
        except Exception as error:  # not found yet, or not serving yet while it starts
            assert time.monotonic() < deadline, f"node {follower} did not catch up within {CATCH_UP_SECONDS} s: {error}"
            time.sleep(0.2)
    for arn in arns + later:
        assert client.describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    # It keeps taking snapshots of its own after catching up.
    written = cluster.log_count(follower, "committed=true")
    create_keys(cluster, 30, "after")
    cluster.wait_log(follower, "committed=true", more_than=written, timeout=30)
