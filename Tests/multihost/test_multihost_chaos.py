"""Multi-host chaos: three nodes in three network namespaces, a client workload, four faults.

The client (root namespace) keeps encrypting, decrypting and writing round-robin over the
three nodes while the test, one after the other: SIGKILLs the leader (and restarts it),
cuts the leader off (its link down), cuts a follower off, and restarts every node in turn.
After each fault a write and a decrypt must succeed again within SERVES_AGAIN_SECONDS.
At the end every acknowledged key exists on every node with its last acknowledged
description, and every acknowledged ciphertext decrypts on every node to its plaintext.
The longest gap without a successful write and without a successful decrypt is printed
per fault.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from multihost_cluster import ACCOUNT, NODES, REGION, Cluster, Network, NetworkNotAllowed, keyraft_binary

#: Bounds and pacing, unit last.
SERVES_AGAIN_SECONDS = 20
FIRST_LEADER_SECONDS = 60
HEALTHY_SECONDS = 30
WARMUP_SECONDS = 2.0
LEADER_PARTITION_HOLD_SECONDS = 6.0   # longer than the read lease (maxStalenessMs 5000)
FOLLOWER_PARTITION_HOLD_SECONDS = 4.0
CONNECT_TIMEOUT_SECONDS = 1.0
CRYPTO_READ_TIMEOUT_SECONDS = 3.0
WRITE_READ_TIMEOUT_SECONDS = 7.0      # the server's own write timeout is 5 s (requestTimeoutTicks 50)
SUSPECT_SECONDS = 3.0                 # a client skips an endpoint this long after it failed
SLOW_SECONDS = 0.5                    # successes slower than this are listed per fault
CREATE_PAUSE_SECONDS = 0.4
UPDATE_PAUSE_SECONDS = 0.1
ENCRYPT_PAUSE_SECONDS = 0.15
DECRYPT_PAUSE_SECONDS = 0.05
THREAD_JOIN_SECONDS = 20
STALE_READ_RETRY_SECONDS = 10
VERIFY_THREADS = 6
INITIAL_KEYS = 3

KEY_ARN_PREFIX = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
#: Errors a client retries elsewhere: the outcome of a write that got one is unknown.
RETRYABLE_CODES = {"DependencyTimeoutException", "KMSInternalException", "ThrottlingException",
                   "ServiceUnavailableException", "ServiceUnavailable", "InternalFailure", "RequestTimeout",
                   "RequestTimeoutException"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# MARK: - What the client saw


@dataclass
class KeyRecord:
    key_id: str
    #: The description of the last acknowledged CreateKey/UpdateKeyDescription.
    last_acked: str
    #: When the request of `last_acked` was sent (monotonic).
    last_acked_sent: float = 0.0
    #: Updates whose outcome is unknown: description → when their failure came back. One may
    #: take effect after a later acknowledged update only if it was still in flight then.
    indeterminate: dict = field(default_factory=dict)


@dataclass
class Ciphertext:
    blob: bytes
    plaintext: bytes
    context: dict
    key_id: str
    node: int


class History:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: dict[str, KeyRecord] = {}
        self.initial_keys: list[str] = []
        self.ciphertexts: list[Ciphertext] = []
        self.successes: dict[str, list[float]] = {"write": [], "decrypt": [], "encrypt": []}
        self.failures: dict[str, int] = {"write": 0, "decrypt": 0, "encrypt": 0}
        #: (start, end, kind, node, error) of every failed request (they are retried elsewhere).
        self.failure_log: list[tuple] = []
        #: (start, end, kind, node) of every request that succeeded after more than SLOW_SECONDS.
        self.slow_log: list[tuple] = []
        #: Answers that must never happen (a wrong plaintext, NotFound for an acknowledged key…).
        self.violations: list[str] = []
        self.suspect_until: dict[int, float] = {}

    def ok(self, kind: str, node: int, started: float) -> None:
        now = time.monotonic()
        with self.lock:
            self.successes[kind].append(now)
            if now - started > SLOW_SECONDS:
                self.slow_log.append((started, now, kind, node))

    def failed(self, kind: str, node: int, error: BaseException, started: float) -> None:
        now = time.monotonic()
        with self.lock:
            self.failures[kind] += 1
            self.suspect_until[node] = now + SUSPECT_SECONDS
            self.failure_log.append((started, now, kind, node, describe(error)))

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(f"{time.monotonic():.1f} {text}")
        log(f"VIOLATION: {text}")


def describe(error: BaseException) -> str:
    if isinstance(error, ClientError):
        e = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{e.get('Code')} (HTTP {status}): {e.get('Message', '')[:160]}"
    return f"{type(error).__name__}: {str(error)[:160]}"


def retryable(error: BaseException) -> bool:
    """A transport failure or a 5xx/throttling/timeout answer: try another node. Anything else
    (a 4xx about the request) is an answer the cluster must not give for these requests."""
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in RETRYABLE_CODES or status >= 500
    return False


class Clients:
    """boto3 KMS clients per node for one thread (sessions are not shared across threads),
    picking endpoints round-robin and skipping those that failed in the last SUSPECT_SECONDS
    (unless every one did), as a client-side load balancer would."""

    def __init__(self, cluster: Cluster, history: History, read_timeout: float, offset: int = 0):
        self.cluster = cluster
        self.history = history
        self.read_timeout = read_timeout
        self.session = boto3.session.Session()
        self.clients: dict[int, object] = {}
        self.next = offset

    def client(self, node: int):
        if node not in self.clients:
            self.clients[node] = self.session.client(
                "kms", endpoint_url=self.cluster.endpoint(node), verify=self.cluster.ca, region_name=REGION,
                aws_access_key_id=self.cluster.access_key, aws_secret_access_key=self.cluster.secret_key,
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                              read_timeout=self.read_timeout, tcp_keepalive=True))
        return self.clients[node]

    def pick(self, nodes: list[int] | None = None) -> int:
        nodes = nodes or list(NODES)
        now = time.monotonic()
        with self.history.lock:
            until = {n: self.history.suspect_until.get(n, 0) for n in nodes}
        healthy = [n for n in nodes if until[n] <= now]
        # Every endpoint failed lately: the one whose failure is oldest.
        candidates = healthy or [min(nodes, key=lambda n: until[n])]
        node = candidates[self.next % len(candidates)]
        self.next += 1
        return node


# MARK: - The workload


class Workload:
    def __init__(self, cluster: Cluster, history: History, run_tag: str):
        self.cluster = cluster
        self.h = history
        self.tag = run_tag
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.crashes: list[str] = []

    def start(self) -> None:
        loops = [("create", self.create_loop, 0), ("update", self.update_loop, 1), ("encrypt", self.encrypt_loop, 2),
                 ("decrypt-a", self.decrypt_loop, 0), ("decrypt-b", self.decrypt_loop, 1)]
        for name, target, offset in loops:
            thread = threading.Thread(target=self._guard, args=(name, target, offset), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self) -> list[str]:
        self.stop.set()
        stuck = []
        deadline = time.monotonic() + THREAD_JOIN_SECONDS
        for thread in self.threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
            if thread.is_alive():
                stuck.append(thread.name)
        return stuck

    def _guard(self, name: str, target, offset: int) -> None:
        try:
            target(offset)
        except BaseException as error:  # noqa: BLE001 - a dead loop must fail the test, not vanish
            self.crashes.append(f"workload thread {name} died: {error!r}")
            log(f"workload thread {name} died: {error!r}")

    def _pause(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def create_loop(self, offset: int) -> None:
        clients = Clients(self.cluster, self.h, WRITE_READ_TIMEOUT_SECONDS, offset)
        i = 0
        while not self.stop.is_set():
            node = clients.pick()
            started = time.monotonic()
            description = f"{self.tag} create {i}"
            try:
                out = clients.client(node).create_key(Description=description)
                key_id = out["KeyMetadata"]["KeyId"]
                with self.h.lock:
                    self.h.keys[key_id] = KeyRecord(key_id, description, started)
                self.h.ok("write", node, started)
                i += 1
            except Exception as error:  # noqa: BLE001
                if not retryable(error):
                    self.h.violation(f"CreateKey on node {node}: {describe(error)}")
                self.h.failed("write", node, error, started)
                i += 1
            self._pause(CREATE_PAUSE_SECONDS)

    def update_loop(self, offset: int) -> None:
        """The only thread that updates descriptions, so each key has one writer and the last
        acknowledged update is what the key must end with (unless a later unknown-outcome
        update landed)."""
        clients = Clients(self.cluster, self.h, WRITE_READ_TIMEOUT_SECONDS, offset)
        j = 0
        while not self.stop.is_set():
            with self.h.lock:
                candidates = [k for k in self.h.keys if k not in self.h.initial_keys]
            if not candidates:
                self._pause(UPDATE_PAUSE_SECONDS)
                continue
            key_id = candidates[j % len(candidates)] if j % 2 else random.choice(candidates)
            node = clients.pick()
            started = time.monotonic()
            description = f"{self.tag} update {j}"
            try:
                clients.client(node).update_key_description(KeyId=key_id, Description=description)
                with self.h.lock:
                    self.h.keys[key_id].last_acked = description
                    self.h.keys[key_id].last_acked_sent = started
                self.h.ok("write", node, started)
            except Exception as error:  # noqa: BLE001
                with self.h.lock:
                    self.h.keys[key_id].indeterminate[description] = time.monotonic()
                if not retryable(error):
                    self.h.violation(f"UpdateKeyDescription of acknowledged key {key_id} on node {node}: {describe(error)}")
                self.h.failed("write", node, error, started)
            j += 1
            self._pause(UPDATE_PAUSE_SECONDS)

    def encrypt_loop(self, offset: int) -> None:
        clients = Clients(self.cluster, self.h, CRYPTO_READ_TIMEOUT_SECONDS, offset)
        i = 0
        while not self.stop.is_set():
            with self.h.lock:
                created = [k for k in self.h.keys if k not in self.h.initial_keys]
            # Half under the initial keys, half under keys the workload created (their material
            # must reach every node too).
            key_id = random.choice(created) if created and i % 2 else random.choice(self.h.initial_keys)
            plaintext = os.urandom(random.randint(1, 96))
            context = {"test": self.tag, "seq": str(i)}
            node = clients.pick()
            started = time.monotonic()
            try:
                out = clients.client(node).encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=context)
                if out.get("KeyId") != KEY_ARN_PREFIX + key_id:
                    self.h.violation(f"Encrypt under {key_id} on node {node} answered KeyId {out.get('KeyId')}")
                with self.h.lock:
                    self.h.ciphertexts.append(Ciphertext(out["CiphertextBlob"], plaintext, context, key_id, node))
                self.h.ok("encrypt", node, started)
            except Exception as error:  # noqa: BLE001
                if not retryable(error):
                    self.h.violation(f"Encrypt under acknowledged key {key_id} on node {node}: {describe(error)}")
                self.h.failed("encrypt", node, error, started)
            i += 1
            self._pause(ENCRYPT_PAUSE_SECONDS)

    def decrypt_loop(self, offset: int) -> None:
        clients = Clients(self.cluster, self.h, CRYPTO_READ_TIMEOUT_SECONDS, offset)
        i = 0
        while not self.stop.is_set():
            with self.h.lock:
                count = len(self.h.ciphertexts)
                # Half the time one of the newest ciphertexts (made on another node a moment ago).
                index = random.randrange(max(0, count - 5), count) if count and i % 2 else random.randrange(count or 1)
                item = self.h.ciphertexts[index] if count else None
            if item is None:
                self._pause(DECRYPT_PAUSE_SECONDS)
                continue
            node = clients.pick()
            started = time.monotonic()
            try:
                check_decrypt(clients.client(node), item, node, self.h)
                self.h.ok("decrypt", node, started)
            except Exception as error:  # noqa: BLE001
                if not retryable(error):
                    self.h.violation(f"Decrypt of an acknowledged ciphertext (key {item.key_id}, made on node "
                                     f"{item.node}) on node {node}: {describe(error)}")
                self.h.failed("decrypt", node, error, started)
            i += 1
            self._pause(DECRYPT_PAUSE_SECONDS)


class WrongAnswer(Exception):
    pass


def check_decrypt(client, item: Ciphertext, node: int, history: History) -> None:
    out = client.decrypt(CiphertextBlob=item.blob, EncryptionContext=item.context)
    if out["Plaintext"] != item.plaintext or out.get("KeyId") != KEY_ARN_PREFIX + item.key_id:
        history.violation(f"Decrypt on node {node} of a ciphertext under {item.key_id} (made on node {item.node}) "
                          f"answered a wrong plaintext or key {out.get('KeyId')}")
        raise WrongAnswer(f"wrong plaintext from node {node}")


# MARK: - Checks the main thread runs


def serves_again(cluster: Cluster, history: History, tag: str, reachable: list[int], what: str,
                 since: float) -> tuple[float, float]:
    """A write (CreateKey) and a decrypt must each succeed on some reachable node within
    SERVES_AGAIN_SECONDS. Both probes run at once, round-robin over `reachable`. Returns
    their times after `since`."""
    deadline = time.monotonic() + SERVES_AGAIN_SECONDS

    def probe(kind: str) -> tuple[float | None, list[str]]:
        clients = Clients(cluster, history, WRITE_READ_TIMEOUT_SECONDS, random.randrange(3))
        errors: list[str] = []
        while time.monotonic() < deadline:
            node = reachable[clients.next % len(reachable)]
            clients.next += 1
            started = time.monotonic()
            try:
                if kind == "write":
                    description = f"{tag} probe after {what}"
                    key_id = clients.client(node).create_key(Description=description)["KeyMetadata"]["KeyId"]
                    with history.lock:
                        history.keys[key_id] = KeyRecord(key_id, description, started)
                else:
                    with history.lock:
                        item = random.choice(history.ciphertexts)
                    check_decrypt(clients.client(node), item, node, history)
                history.ok(kind, node, started)
                return time.monotonic() - since, errors
            except WrongAnswer:
                return None, errors + [f"node {node} decrypted an acknowledged ciphertext to the wrong plaintext"]
            except Exception as error:  # noqa: BLE001
                if not retryable(error):
                    history.violation(f"probe {kind} on node {node} after {what}: {describe(error)}")
                errors.append(f"{kind} node {node}: {describe(error)}")
            time.sleep(0.1)
        return None, errors

    with ThreadPoolExecutor(2) as pool:
        write_job, decrypt_job = pool.submit(probe, "write"), pool.submit(probe, "decrypt")
        (write_at, write_errors), (decrypt_at, decrypt_errors) = write_job.result(), decrypt_job.result()
    if write_at is None or decrypt_at is None:
        pytest.fail(f"{what}: the cluster did not serve again within {SERVES_AGAIN_SECONDS} s on nodes {reachable} "
                    f"(write {'ok' if write_at is not None else 'failing'}, decrypt "
                    f"{'ok' if decrypt_at is not None else 'failing'}); last errors: {(write_errors + decrypt_errors)[-8:]}"
                    f"\n{cluster.log_tails(20)}", pytrace=False)
    return write_at, decrypt_at


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch of [start, end] without a success (a gap running past `end` counts
    up to the next success after it)."""
    times = sorted(times)
    points = [start] + [t for t in times if start < t <= end]
    after = next((t for t in times if t > end), None)
    points.append(after if after is not None else end)
    return max(b - a for a, b in zip(points, points[1:]))


def failures_in(history: History, start: float, end: float) -> str:
    """The failed and the slow requests that overlap [start, end], grouped and with their
    longest duration: `write node 2 ReadTimeoutError x3 (<=7.0 s)`."""
    groups: dict[str, list] = {}
    with history.lock:
        failed = [e for e in history.failure_log if e[1] >= start and e[0] <= end]
        slow = [e for e in history.slow_log if e[1] >= start and e[0] <= end]
    for began, ended, kind, node, error in failed:
        name = error.split(":")[0].split(" (")[0]
        if "(HTTP " in error:  # an answer: its message says which refusal ("no leader", "leader changed"…)
            name += " '" + " ".join(error.split("): ", 1)[-1].split()[:5]) + "…'"
        entry = groups.setdefault(f"{kind} node {node} {name}", [0, 0.0])
        entry[0] += 1
        entry[1] = max(entry[1], ended - began)
    for began, ended, kind, node in slow:
        entry = groups.setdefault(f"{kind} node {node} slow success", [0, 0.0])
        entry[0] += 1
        entry[1] = max(entry[1], ended - began)
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1][1], -kv[1][0]))
    return ", ".join(f"{label} x{n} (<={longest:.1f} s)" for label, (n, longest) in ranked) or "none"


# MARK: - The test


@dataclass
class Fault:
    name: str
    start: float
    end: float = 0.0
    serves_write: float = 0.0
    serves_decrypt: float = 0.0
    notes: list = field(default_factory=list)


@pytest.fixture
def network():
    # SIGTERM (a CI timeout) becomes KeyboardInterrupt, so that the teardowns below still stop
    # the nodes and delete the namespaces.
    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    net = Network()
    try:
        net.create()
    except NetworkNotAllowed as reason:
        problems = net.destroy()
        signal.signal(signal.SIGTERM, previous)
        pytest.skip(f"multi-host chaos test needs network namespaces, which are not allowed here: {reason}"
                    + (f" (cleanup: {problems})" if problems else ""))
    except BaseException:
        net.destroy()
        signal.signal(signal.SIGTERM, previous)
        raise
    try:
        yield net
    finally:
        problems = net.destroy()
        signal.signal(signal.SIGTERM, previous)
    assert not problems, f"network cleanup: {problems}"


@pytest.fixture
def cluster(network):
    binary = keyraft_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"keyraft binary not found or not executable at {binary}; point KEYRAFT_BIN at it", pytrace=False)
    work = Path(tempfile.mkdtemp(prefix=f"keyraft-multihost-{network.run_id}-"))
    running = Cluster(binary, work, network)
    try:
        yield running
    finally:
        problems = running.stop_all()
        keep = os.environ.get("KEYRAFT_MULTIHOST_KEEP") == "1"
        if keep:
            log(f"kept {work} (KEYRAFT_MULTIHOST_KEEP=1)")
        else:
            shutil.rmtree(work, ignore_errors=True)
        assert not problems, f"node shutdown: {problems}"


def test_multihost_chaos(cluster: Cluster, capsys):
    began = time.monotonic()
    net = cluster.net
    tag = f"mh-{net.run_id}"
    history = History()
    faults: list[Fault] = []
    lines: list[str] = []

    def say(message: str) -> None:
        with capsys.disabled():
            log(f"t={time.monotonic() - began:5.1f} {message}")
        lines.append(message)

    say(f"network: namespaces {[net.ns(n) for n in NODES]} + {net.hub}, nodes at "
        f"{[net.address(n) for n in NODES]}, client link {net.root_link}; files in {cluster.work}")
    cluster.write_material()
    for node in NODES:
        cluster.start(node)
    leader = cluster.wait_healthy(FIRST_LEADER_SECONDS)
    say(f"cluster up in {time.monotonic() - began:.1f} s, leader node {leader}")

    setup = Clients(cluster, history, WRITE_READ_TIMEOUT_SECONDS)
    for i in range(INITIAL_KEYS):
        node = NODES[i % len(NODES)]
        key_id = setup.client(node).create_key(Description=f"{tag} initial {i}")["KeyMetadata"]["KeyId"]
        history.keys[key_id] = KeyRecord(key_id, f"{tag} initial {i}")
        history.initial_keys.append(key_id)
        out = setup.client(node).encrypt(KeyId=key_id, Plaintext=b"seed %d" % i, EncryptionContext={"test": tag})
        history.ciphertexts.append(Ciphertext(out["CiphertextBlob"], b"seed %d" % i, {"test": tag}, key_id, node))

    workload = Workload(cluster, history, tag)
    workload.start()
    try:
        time.sleep(WARMUP_SECONDS)
        run_faults(cluster, history, tag, faults, say)
    except AssertionError as error:  # a bound was missed (healthy, leader, exit): attach what we know
        workload.join()
        pytest.fail(f"{error}\nviolations so far: {history.violations[:10]}\nsummary:\n  " + "\n  ".join(lines)
                    + f"\n{cluster.log_tails(25)}", pytrace=False)
    finally:
        stuck = workload.join()
    assert not stuck, f"workload threads did not stop within {THREAD_JOIN_SECONDS} s: {stuck}"
    workload_seconds = time.monotonic() - began

    # -- the verdict
    cluster.wait_healthy(HEALTHY_SECONDS)
    if os.environ.get("KEYRAFT_MULTIHOST_INJECT") == "1":
        # Self-check of the verdict: remember a wrong plaintext and a description never written.
        # The test must then fail with 2 x 3 problems.
        with history.lock:
            first = history.ciphertexts[0]
            history.ciphertexts.append(Ciphertext(first.blob, first.plaintext + b"!", first.context, first.key_id, 0))
            history.keys[history.initial_keys[0]].last_acked += " (never written)"
        say("KEYRAFT_MULTIHOST_INJECT=1: added a wrong plaintext and a lost description; this run must fail")
    crashes = cluster.crashed()
    verify = verify_everything(cluster, history)

    with history.lock:
        writes_ok, decrypts_ok, encrypts_ok = (len(history.successes[k]) for k in ("write", "decrypt", "encrypt"))
        failures = dict(history.failures)
        violations = list(history.violations)
        keys = len(history.keys)
        ciphertexts = len(history.ciphertexts)
    say(f"workload: {writes_ok} writes, {encrypts_ok} encrypts, {decrypts_ok} decrypts acknowledged; "
        f"failed (retried elsewhere): {failures}; client: connect timeout {CONNECT_TIMEOUT_SECONDS:g} s, read timeout "
        f"{CRYPTO_READ_TIMEOUT_SECONDS:g} s crypto / {WRITE_READ_TIMEOUT_SECONDS:g} s writes, no botocore retries, "
        f"a failed endpoint skipped for {SUSPECT_SECONDS:g} s")
    for fault in faults:
        writes_gap = longest_gap(history.successes["write"], fault.start, fault.end)
        decrypts_gap = longest_gap(history.successes["decrypt"], fault.start, fault.end)
        say(f"unavailability: {fault.name:<22} writes {writes_gap:4.1f} s decrypts {decrypts_gap:4.1f} s "
            f"(serves again: write {fault.serves_write:.1f} s, decrypt {fault.serves_decrypt:.1f} s; "
            f"window {fault.end - fault.start:.1f} s{'; ' + '; '.join(fault.notes) if fault.notes else ''})")
        say(f"    failed or slow requests: {failures_in(history, fault.start, fault.end)}")
    say(f"verified {keys} keys x {len(NODES)} nodes and {ciphertexts} ciphertexts x {len(NODES)} nodes "
        f"in {verify['seconds']:.1f} s; {verify['indeterminate_landed']} keys ended with an unknown-outcome update")
    with history.lock, open(cluster.work / "client-failures.log", "w") as out:
        for first, last, kind, node, error in history.failure_log:
            out.write(f"t={first - began:.3f} took {last - first:.3f} s {kind} node {node}: {error}\n")
    digest = cluster.log_digest()
    if digest:
        say("server warnings/errors (count, message):\n    " + "\n    ".join(digest))
    say(f"total {time.monotonic() - began:.1f} s (workload and faults {workload_seconds:.1f} s)")

    problems = crashes + workload.crashes + violations + verify["problems"]
    if problems:
        sample = "\n  ".join(problems[:25])
        pytest.fail(f"{len(problems)} problems:\n  {sample}\nsummary:\n  " + "\n  ".join(lines)
                    + f"\n{cluster.log_tails(25)}", pytrace=False)


def run_faults(cluster: Cluster, history: History, tag: str, faults: list[Fault], say) -> None:
    net = cluster.net

    # (a) SIGKILL of the leader, then its restart.
    leader = cluster.leader(list(NODES), HEALTHY_SECONDS)
    fault = Fault("leader SIGKILL", time.monotonic())
    faults.append(fault)
    say(f"fault a: SIGKILL leader node {leader}")
    cluster.signal(leader, signal.SIGKILL)
    others = [n for n in NODES if n != leader]
    fault.serves_write, fault.serves_decrypt = serves_again(cluster, history, tag, others, "leader SIGKILL", fault.start)
    new_leader = cluster.leader(others, SERVES_AGAIN_SECONDS)
    fault.notes.append(f"node {leader} -> {new_leader}")
    cluster.start(leader)
    cluster.wait_healthy(HEALTHY_SECONDS)
    fault.end = time.monotonic()
    say(f"  node {leader} restarted and caught up; {fault.end - fault.start:.1f} s")

    # (b) The leader cut off (its link down), later restored.
    leader = cluster.leader(list(NODES), HEALTHY_SECONDS)
    fault = Fault("leader partition", time.monotonic())
    faults.append(fault)
    say(f"fault b: isolate leader node {leader}")
    net.isolate(leader)
    others = [n for n in NODES if n != leader]
    fault.serves_write, fault.serves_decrypt = serves_again(cluster, history, tag, others, "leader partition", fault.start)
    new_leader = cluster.leader(others, SERVES_AGAIN_SECONDS)
    fault.notes.append(f"node {leader} -> {new_leader}")
    hold_until(fault.start + LEADER_PARTITION_HOLD_SECONDS)
    net.restore(leader)
    cluster.wait_healthy(HEALTHY_SECONDS)
    serves_again(cluster, history, tag, list(NODES), "leader partition healed", time.monotonic())
    fault.end = time.monotonic()
    say(f"  link of node {leader} restored, cluster healthy; {fault.end - fault.start:.1f} s")

    # (c) A follower cut off, later restored.
    leader = cluster.leader(list(NODES), HEALTHY_SECONDS)
    term_before = cluster.status(leader).get("Term")
    follower = random.choice([n for n in NODES if n != leader])
    fault = Fault("follower partition", time.monotonic())
    faults.append(fault)
    say(f"fault c: isolate follower node {follower} (leader {leader})")
    net.isolate(follower)
    others = [n for n in NODES if n != follower]
    fault.serves_write, fault.serves_decrypt = serves_again(cluster, history, tag, others, "follower partition", fault.start)
    hold_until(fault.start + FOLLOWER_PARTITION_HOLD_SECONDS)
    net.restore(follower)
    cluster.wait_healthy(HEALTHY_SECONDS)
    serves_again(cluster, history, tag, list(NODES), "follower partition healed", time.monotonic())
    fault.end = time.monotonic()
    after = cluster.leader(list(NODES), HEALTHY_SECONDS)
    term_after = cluster.status(after).get("Term")
    fault.notes.append(f"leader {leader} term {term_before} -> leader {after} term {term_after}"
                       + (" (the returning follower disrupted the leader)" if after != leader or term_after != term_before else ""))
    say(f"  link of node {follower} restored, cluster healthy; {fault.end - fault.start:.1f} s")

    # (d) Every node restarted in turn (SIGTERM, start, caught up).
    fault = Fault("rolling restart", time.monotonic())
    faults.append(fault)
    say("fault d: rolling restart 1, 2, 3")
    first_write = first_decrypt = 0.0
    for node in NODES:
        was_leader = cluster.try_status(node)
        stopping = cluster.send_signal(node, signal.SIGTERM)
        others = [n for n in NODES if n != node]
        # While it stops the other two must serve (the bound is measured from its SIGTERM).
        w, d = serves_again(cluster, history, tag, others, f"SIGTERM of node {node}", stopping)
        first_write, first_decrypt = max(first_write, w), max(first_decrypt, d)
        stopped_in = cluster.wait_exit(node, stopping)
        cluster.start(node)
        cluster.wait_healthy(HEALTHY_SECONDS)
        role = "leader" if was_leader and was_leader.get("Role") == "Leader" else "follower"
        fault.notes.append(f"node {node} ({role}) exited {stopped_in:.1f} s after SIGTERM, "
                           f"back in {time.monotonic() - stopping:.1f} s")
    fault.serves_write, fault.serves_decrypt = first_write, first_decrypt
    fault.end = time.monotonic()
    say(f"  rolling restart done; {fault.end - fault.start:.1f} s")


def hold_until(moment: float) -> None:
    remaining = moment - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def verify_everything(cluster: Cluster, history: History) -> dict:
    """Every acknowledged key on every node with an allowed description; every acknowledged
    ciphertext decrypting on every node to its plaintext."""
    started = time.monotonic()
    problems: list[str] = []
    landed = set()
    lock = threading.Lock()
    local = threading.local()

    def client(node: int):
        if not hasattr(local, "clients"):
            local.clients = Clients(cluster, History(), WRITE_READ_TIMEOUT_SECONDS)
        return local.clients.client(node)

    def with_retries(action):
        """Retries retryable errors and stale answers for up to STALE_READ_RETRY_SECONDS."""
        deadline = time.monotonic() + STALE_READ_RETRY_SECONDS
        while True:
            try:
                verdict = action()
                if verdict is None or time.monotonic() > deadline:
                    return verdict
            except Exception as error:  # noqa: BLE001
                if not retryable(error) or time.monotonic() > deadline:
                    return describe(error)
            time.sleep(0.3)

    def check_key(record: KeyRecord, node: int) -> None:
        # An unknown-outcome update may be what the key ends with if it was still in flight when
        # the last acknowledged update was sent (or came after it). One whose failure had come
        # back before that was sent, and that still overwrote it, lost an acknowledged write.
        overlapping = {d for d, failed_at in record.indeterminate.items() if failed_at >= record.last_acked_sent}
        allowed = {record.last_acked} | overlapping

        def action():
            description = client(node).describe_key(KeyId=record.key_id)["KeyMetadata"].get("Description")
            if description in allowed:
                if description != record.last_acked:
                    with lock:
                        landed.add(record.key_id)
                return None
            if description in record.indeterminate:
                return (f"acknowledged write lost: key {record.key_id} on node {node} has {description!r}, an update "
                        f"answered as failed (unknown outcome) before {record.last_acked!r} was sent and acknowledged")
            return (f"acknowledged write lost or wrong: key {record.key_id} on node {node} has {description!r}; "
                    f"last acknowledged {record.last_acked!r} (unknown-outcome updates: {sorted(record.indeterminate)[:4]})")

        verdict = with_retries(action)
        if verdict:
            with lock:
                problems.append(verdict if verdict.startswith("acknowledged write")
                                else f"DescribeKey of acknowledged key {record.key_id} on node {node}: {verdict}")

    def check_ciphertext(item: Ciphertext, node: int) -> None:
        def action():
            out = client(node).decrypt(CiphertextBlob=item.blob, EncryptionContext=item.context)
            if out["Plaintext"] != item.plaintext:
                return "wrong plaintext"
            if out.get("KeyId") != KEY_ARN_PREFIX + item.key_id:
                return f"wrong KeyId {out.get('KeyId')}"
            return None

        verdict = with_retries(action)
        if verdict:
            with lock:
                problems.append(f"acknowledged ciphertext (key {item.key_id}, made on node {item.node}) "
                                f"on node {node}: {verdict}")

    with history.lock:
        keys = list(history.keys.values())
        ciphertexts = list(history.ciphertexts)
    with ThreadPoolExecutor(VERIFY_THREADS) as pool:
        jobs = [pool.submit(check_key, record, node) for record in keys for node in NODES]
        jobs += [pool.submit(check_ciphertext, item, node) for item in ciphertexts for node in NODES]
        for job in jobs:
            job.result()
    return {"problems": problems, "indeterminate_landed": len(landed), "seconds": time.monotonic() - started}
