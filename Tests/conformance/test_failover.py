"""Leader failover under load, then the killed node's return. Runs last: it kills a node.

Clients keep decrypting and writing, round-robin over the two nodes that stay up, while the
leader is killed with SIGKILL. Decrypts must keep succeeding (botocore's own retries
allowed); a write must succeed again within 15 s. The killed node is restarted with
`keyraft server --config D/node-N.yaml`, catches up, and decrypts what was made while it
was down.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

pytestmark = pytest.mark.last

WRITE_RECOVERY_SECONDS_MAX = 15
WARMUP_SECONDS = 1.0
AFTER_RECOVERY_SECONDS = 1.0
RESTART_SECONDS_MAX = 30
CATCH_UP_SECONDS_MAX = 30
THREAD_JOIN_SECONDS = 90
FAILURES_SHOWN_MAX = 5


@dataclass
class Load:
    """What the client threads saw. Times are seconds after the SIGKILL."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    killed_at: float | None = None
    decrypts_ok: int = 0
    decrypt_failures: list = field(default_factory=list)
    decrypt_latency_max: float = 0.0
    writes_ok: int = 0
    writes_ok_after_kill: int = 0
    write_failures: int = 0
    first_write_after_kill: float | None = None
    write_errors: list = field(default_factory=list)

    def since_kill(self, moment: float) -> float | None:
        return None if self.killed_at is None else moment - self.killed_at


def decrypt_loop(load: Load, clients: list, blobs: list) -> None:
    i = 0
    while not load.stop.is_set():
        node, client = clients[i % len(clients)]
        blob, plaintext, context = blobs[i % len(blobs)]
        started = time.monotonic()
        try:
            out = client.decrypt(CiphertextBlob=blob, EncryptionContext=context)
            assert out["Plaintext"] == plaintext, "wrong plaintext"
            with load.lock:
                load.decrypts_ok += 1
                load.decrypt_latency_max = max(load.decrypt_latency_max, time.monotonic() - started)
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            with load.lock:
                load.decrypt_failures.append((load.since_kill(time.monotonic()), node, repr(error)[:300]))
        i += 1
        time.sleep(0.01)


def write_loop(load: Load, clients: list, key_arn: str) -> None:
    i = 0
    while not load.stop.is_set():
        node, client = clients[i % len(clients)]
        started = time.monotonic()
        try:
            client.update_key_description(KeyId=key_arn, Description=f"failover write {i} via node {node}")
            with load.lock:
                load.writes_ok += 1
                if load.killed_at is not None and started >= load.killed_at:
                    load.writes_ok_after_kill += 1
                    if load.first_write_after_kill is None:
                        load.first_write_after_kill = time.monotonic() - load.killed_at
        except Exception as error:  # noqa: BLE001 - failures are expected until a new leader serves writes
            with load.lock:
                load.write_failures += 1
                if len(load.write_errors) < FAILURES_SHOWN_MAX:
                    load.write_errors.append((load.since_kill(time.monotonic()), node, repr(error)[:200]))
        i += 1
        time.sleep(0.05)


def wait_for(what: str, check, seconds: float, interval: float = 0.2):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(interval)


def test_leader_failover_and_restart(cluster):
    killed = cluster.leader()
    survivors = [n for n in cluster.node_ids if n != killed]
    key = cluster.client(killed).create_key(Description="conformance: failover")["KeyMetadata"]
    arn = key["Arn"]
    blobs = []
    for n in cluster.node_ids:
        context = {"made-on": str(n)}
        plaintext = f"made on node {n} before the failover".encode()
        blob = cluster.client(n).encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
        blobs.append((blob, plaintext, context))

    load = Load()
    decrypt_clients = [(n, cluster.client(n, fresh=True)) for n in survivors]
    # Writes without client retries, so the moment writes work again is measured, not hidden in backoff.
    write_clients = [(n, cluster.client(n, max_attempts=1, read_timeout=10, fresh=True)) for n in survivors]
    threads = [threading.Thread(target=decrypt_loop, args=(load, decrypt_clients, blobs), daemon=True),
               threading.Thread(target=write_loop, args=(load, write_clients, arn), daemon=True)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(WARMUP_SECONDS)
        with load.lock:
            assert load.decrypts_ok > 0 and load.writes_ok > 0, \
                f"no load before the kill: {load.decrypts_ok} decrypts, {load.writes_ok} writes, {load.write_errors}"
            load.killed_at = time.monotonic()
        pid = cluster.kill_node(killed)
        deadline = load.killed_at + WRITE_RECOVERY_SECONDS_MAX + 5
        while load.first_write_after_kill is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(AFTER_RECOVERY_SECONDS)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(THREAD_JOIN_SECONDS)

    first_write = load.first_write_after_kill
    summary = (f"SIGKILL to leader node {killed} (pid {pid}); first successful write "
               f"{'never' if first_write is None else f'{first_write:.2f} s'} after it; decrypts ok {load.decrypts_ok}, "
               f"failed {len(load.decrypt_failures)}, slowest {load.decrypt_latency_max:.2f} s; writes ok "
               f"{load.writes_ok} ({load.writes_ok_after_kill} after the kill), failed {load.write_failures}")
    print(f"\nfailover: {summary}")
    assert not any(t.is_alive() for t in threads), "client threads did not stop"
    assert first_write is not None and first_write <= WRITE_RECOVERY_SECONDS_MAX, \
        f"{summary}; first write errors: {load.write_errors}"
    assert load.decrypt_failures == [], \
        f"{len(load.decrypt_failures)} decrypts failed on surviving nodes: {load.decrypt_failures[:FAILURES_SHOWN_MAX]}"
    new_leader = cluster.leader(among=survivors)
    assert new_leader in survivors

    # While the old leader is down: a new key, a rotation, ciphertexts under both versions.
    writer = cluster.client(new_leader)
    made_while_down = []
    new_key = cluster.client(survivors[0]).create_key(Description="made while a node was down")["KeyMetadata"]["Arn"]
    made_while_down.append((writer.encrypt(KeyId=new_key, Plaintext=b"new key")["CiphertextBlob"], b"new key", {}))
    made_while_down.append((writer.encrypt(KeyId=arn, Plaintext=b"old version")["CiphertextBlob"], b"old version", {}))
    writer.rotate_key_on_demand(KeyId=arn)
    rotated = cluster.client(survivors[1]).encrypt(KeyId=arn, Plaintext=b"new version", EncryptionContext={"r": "1"})
    made_while_down.append((rotated["CiphertextBlob"], b"new version", {"r": "1"}))

    process = cluster.start_node(killed)
    wait_for(f"node {killed} writes its new pid file", lambda: cluster.read_pid(killed) == process.pid or
             process.poll() is not None, RESTART_SECONDS_MAX)
    assert process.poll() is None, f"restarted node {killed} exited with {process.returncode}"
    wait_for(f"node {killed} answers its status", lambda: cluster.try_status(killed) is not None, RESTART_SECONDS_MAX)
    target = cluster.status(new_leader)["CommitIndex"]
    started = time.monotonic()
    wait_for(f"node {killed} applies up to the leader's commit index {target}",
             lambda: (cluster.try_status(killed) or {}).get("AppliedIndex", -1) >= target, CATCH_UP_SECONDS_MAX)
    print(f"node {killed} restarted and caught up to index {target} in {time.monotonic() - started:.2f} s")

    returned = cluster.client(killed, fresh=True)
    for blob, plaintext, context in made_while_down + blobs:
        assert returned.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plaintext
    assert returned.describe_key(KeyId=new_key)["KeyMetadata"]["Arn"] == new_key
    assert len(returned.list_key_rotations(KeyId=arn)["Rotations"]) == 1
    def following():
        status = cluster.try_status(killed)
        return status if status and status.get("LeaderId") == new_leader else None

    status = wait_for(f"node {killed} follows the new leader", following, RESTART_SECONDS_MAX)
    assert status["Role"] == "Follower" and status["Sealed"] is False, status
