"""A 3-node Keyraft cluster on three network namespaces, for the multi-host chaos test.

`Network` creates one namespace per node plus a hub namespace holding a bridge, links each
node to the bridge with a veth pair, and links the root namespace (where the test's client
runs) to the same bridge. A partition is the hub-side end of a node's veth taken down.

`Cluster` writes the cluster material with the real binary (`keyraft certs`) and by hand
(root key, credentials, one YAML per node), starts each node with
`ip netns exec <ns> keyraft server --config node-N.yaml`, and reads node status
(`KeyraftAdmin.GetNodeStatus`, signed with botocore's SigV4Auth as in the conformance
harness, whose request helpers are reused).

Everything is named after a random run id (`kr-<id>-n1`, `kr<id>c`, …) so that parallel
runs do not clash; the 10.231.X.0/24 subnet is chosen under a file lock among those no
address or route of the root namespace uses.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))

from keyraft_cluster import (  # noqa: E402 - after the path change above
    ACCOUNT,
    JSON_CONTENT_TYPE,
    NODE_STATUS_TARGET,
    REGION,
    SERVICE,
    build_request,
    keyraft_binary,
    send,
    tail,
)

NODES = (1, 2, 3)
PEER_PORT, API_PORT, ADMIN_PORT = 7100, 8100, 9100
CLIENT_HOST = 254
SUBNET_PREFIX = "10.231"
LOCK_FILE = "/tmp/keyraft-multihost.lock"
IP_TIMEOUT_SECONDS = 20
STATUS_TIMEOUT_SECONDS = 2
STOP_WAIT_SECONDS = 20

__all__ = ["ACCOUNT", "REGION", "keyraft_binary", "tail", "Network", "Cluster", "NetworkNotAllowed", "ip"]


class NetworkNotAllowed(Exception):
    """This machine does not let the test make namespaces (not root, no `ip`, netns refused)."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=IP_TIMEOUT_SECONDS)
    if check and result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result


class Network:
    """Namespaces `kr-<id>-n1..3` and `kr-<id>-hub`, a bridge in the hub, veth pairs, and the
    root namespace's link `kr<id>c` (address 10.231.X.254) into the same bridge."""

    def __init__(self) -> None:
        self.run_id = ""
        self.subnet = -1
        self.namespaces: list[str] = []
        self.root_link = ""
        self.down: set[int] = set()

    # -- names

    def ns(self, node: int) -> str:
        return f"kr-{self.run_id}-n{node}"

    @property
    def hub(self) -> str:
        return f"kr-{self.run_id}-hub"

    def address(self, node: int) -> str:
        return f"{SUBNET_PREFIX}.{self.subnet}.{node}"

    @staticmethod
    def hub_link(node: int) -> str:
        """The hub-side end of node `node`'s veth (the one a partition takes down)."""
        return f"b{node}"

    # -- lifecycle

    def create(self) -> None:
        if os.geteuid() != 0:
            raise NetworkNotAllowed(f"needs root to create network namespaces (euid {os.geteuid()})")
        if shutil.which("ip") is None:
            raise NetworkNotAllowed("the `ip` command (iproute2) is not installed")
        existing = ip("netns", "list", check=False).stdout
        while True:
            self.run_id = secrets.token_hex(3)
            if f"kr-{self.run_id}-" not in existing:
                break
        self.root_link = f"kr{self.run_id}c"
        first = self.ns(NODES[0])
        probe = ip("netns", "add", first, check=False)
        if probe.returncode != 0:
            raise NetworkNotAllowed(f"`ip netns add {first}` failed ({probe.returncode}): {probe.stderr.strip()}")
        self.namespaces.append(first)
        for name in [self.ns(n) for n in NODES[1:]] + [self.hub]:
            ip("netns", "add", name)
            self.namespaces.append(name)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        ip("-n", self.hub, "link", "set", "lo", "up")
        for node in NODES:
            ns = self.ns(node)
            ip("-n", self.hub, "link", "add", self.hub_link(node), "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", self.hub, "link", "set", self.hub_link(node), "master", "br0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
        # The subnet: one that nothing in the root namespace uses, chosen and claimed under a lock.
        with open(LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                used_text = ip("-4", "-o", "addr", "show").stdout + ip("-4", "route", "show", "table", "all").stdout
                used = {int(m) for m in re.findall(r"10\.231\.(\d+)\.", used_text)}
                free = [x for x in range(1, 255) if x not in used]
                if not free:
                    raise RuntimeError("every 10.231.X.0/24 subnet is in use in the root namespace")
                self.subnet = random.choice(free)
                ip("link", "add", self.root_link, "type", "veth", "peer", "name", "bc", "netns", self.hub)
                ip("addr", "add", f"{SUBNET_PREFIX}.{self.subnet}.{CLIENT_HOST}/24", "dev", self.root_link)
                ip("link", "set", self.root_link, "up")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        ip("-n", self.hub, "link", "set", "bc", "master", "br0", "up")
        for node in NODES:
            ns = self.ns(node)
            ip("-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def destroy(self) -> list[str]:
        """Deletes the root link and every namespace (which takes the bridge and veths along)."""
        problems = []
        if self.root_link:
            ip("link", "del", self.root_link, check=False)
        for name in reversed(self.namespaces):
            result = ip("netns", "del", name, check=False)
            if result.returncode != 0:
                problems.append(f"`ip netns del {name}`: {result.stderr.strip()}")
        self.namespaces.clear()
        return problems

    # -- faults

    def isolate(self, node: int) -> None:
        ip("-n", self.hub, "link", "set", self.hub_link(node), "down")
        self.down.add(node)

    def restore(self, node: int) -> None:
        ip("-n", self.hub, "link", "set", self.hub_link(node), "up")
        self.down.discard(node)


@dataclass
class Node:
    node_id: int
    config: Path
    log_path: Path
    pid_file: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    #: Exits the test did not cause (crashes), as (start number, return code).
    unexpected_exits: list = field(default_factory=list)
    expected_exit: bool = False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Cluster:
    def __init__(self, binary: Path, work: Path, network: Network):
        self.binary = binary
        self.work = work
        self.net = network
        self.nodes: dict[int, Node] = {}
        self.access_key = "AKIA" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self._logs: list = []

    @property
    def ca(self) -> str:
        return str(self.work / "ca.pem")

    def endpoint(self, node: int) -> str:
        return f"https://{self.net.address(node)}:{API_PORT}"

    # -- material

    def write_material(self) -> None:
        certs = [str(self.binary), "certs", "--dir", str(self.work)]
        for node in NODES:
            certs += ["--node", str(node)]
        for node in NODES:
            certs += ["--ip", self.net.address(node)]
        certs += ["--ip", "127.0.0.1", "--dns", "localhost"]
        result = subprocess.run(certs, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"`{' '.join(certs)}` failed ({result.returncode}): {result.stderr}{result.stdout}")
        for name in ["ca.pem"] + [f"node-{n}.{ext}" for n in NODES for ext in ("pem", "key")]:
            if not (self.work / name).is_file():
                raise RuntimeError(f"`keyraft certs` did not write {name}: {result.stdout}{result.stderr}")
        self._write_secret(self.work / "root.key", secrets.token_hex(32) + "\n")
        credentials = {"credentials": [{
            "accessKeyId": self.access_key, "secretAccessKey": self.secret_key,
            "principalArn": f"arn:aws:iam::{ACCOUNT}:user/dev", "accountId": ACCOUNT,
            "allowedActions": ["kms:*", "keyraft:*"]}]}
        self._write_secret(self.work / "credentials.json", json.dumps(credentials, indent=2) + "\n")
        for node in NODES:
            peers = "\n".join(f'  {p}: "{self.net.address(p)}:{PEER_PORT}"' for p in NODES if p != node)
            address = self.net.address(node)
            config = self.work / f"node-{node}.yaml"
            config.write_text(f"""\
# keyraft multi-host chaos test: node {node} in network namespace {self.net.ns(node)}
nodeId: {node}
dataDir: {self.work / f"node-{node}"}
peerAddress: "{address}:{PEER_PORT}"
apiAddress: "{address}:{API_PORT}"
adminAddress: "{address}:{ADMIN_PORT}"
peers:
{peers}
initialVoters: [{", ".join(str(n) for n in NODES)}]
tls:
  certificate: {self.work / f"node-{node}.pem"}
  privateKey: {self.work / f"node-{node}.key"}
  ca: {self.work / "ca.pem"}
rootKeyFile: {self.work / "root.key"}
credentialsFile: {self.work / "credentials.json"}
region: {REGION}
accountId: "{ACCOUNT}"
tickMs: 100
electionTimeoutTicks: 10
readConsistency: lease
maxStalenessMs: 5000
pidFile: {self.work / f"node-{node}.pid"}
logLevel: info
""")
            self.nodes[node] = Node(node, config, self.work / f"node-{node}.log", self.work / f"node-{node}.pid")

    @staticmethod
    def _write_secret(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)

    # -- processes

    def start(self, node: int) -> None:
        record = self.nodes[node]
        assert not record.running(), f"node {node} already runs"
        self._note_exit(record)
        log = open(record.log_path, "ab")
        self._logs.append(log)
        log.write(f"===== keyraft-multihost: start #{record.starts + 1} of node {node} at {time.time():.3f} =====\n".encode())
        log.flush()
        # `ip netns exec` execs the binary in place, so the child's pid is the server's.
        record.process = subprocess.Popen(
            ["ip", "netns", "exec", self.net.ns(node), str(self.binary), "server", "--config", str(record.config)],
            cwd=self.work, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        record.starts += 1
        record.expected_exit = False

    def _note_exit(self, record: Node) -> None:
        if record.process is not None and record.process.poll() is not None and not record.expected_exit:
            record.unexpected_exits.append((record.starts, record.process.returncode))
            record.expected_exit = True  # noted once

    def signal(self, node: int, sig: int, wait: float = STOP_WAIT_SECONDS) -> float:
        """Sends `sig` to the node's process and waits for it to exit. Returns the seconds it took;
        raises if it did not exit in time (after SIGKILLing it)."""
        return self.wait_exit(node, self.send_signal(node, sig), wait)

    def send_signal(self, node: int, sig: int) -> float:
        """Sends `sig` to the node's process; returns when (monotonic)."""
        record = self.nodes[node]
        assert record.running(), f"node {node} is not running (exit {record.process and record.process.returncode})"
        record.expected_exit = True
        record.process.send_signal(sig)
        return time.monotonic()

    def wait_exit(self, node: int, started: float, wait: float = STOP_WAIT_SECONDS) -> float:
        """Waits for the node's process to exit; the seconds since `started`. SIGKILL and raise
        if it runs `wait` seconds after `started`."""
        record = self.nodes[node]
        try:
            record.process.wait(timeout=max(0.1, started + wait - time.monotonic()))
        except subprocess.TimeoutExpired:
            record.process.kill()
            record.process.wait(timeout=10)
            raise AssertionError(f"node {node} still ran {wait} s after its signal; SIGKILLed")
        return time.monotonic() - started

    def crashed(self) -> list[str]:
        """Nodes that exited without the test asking them to."""
        out = []
        for record in self.nodes.values():
            self._note_exit(record)
            for start, code in record.unexpected_exits:
                out.append(f"node {record.node_id} (start #{start}) exited by itself with {code}")
        return out

    def stop_all(self) -> list[str]:
        """SIGTERM to every running node, ≤ 20 s, then SIGKILL. Returns what went wrong."""
        problems = self.crashed()
        running = [r for r in self.nodes.values() if r.running()]
        for record in running:
            record.expected_exit = True
            record.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for record in running:
            try:
                record.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems.append(f"node {record.node_id} ignored SIGTERM for {STOP_WAIT_SECONDS} s; SIGKILL")
                record.process.kill()
                record.process.wait(timeout=10)
        for log in self._logs:
            log.close()
        self._logs.clear()
        return problems

    # -- status

    def status(self, node: int, timeout: float = STATUS_TIMEOUT_SECONDS) -> dict:
        url = self.endpoint(node) + "/"
        aws_request = AWSRequest(method="POST", url=url, data=b"{}",
                                 headers={"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": NODE_STATUS_TARGET})
        SigV4Auth(Credentials(self.access_key, self.secret_key), SERVICE, REGION).add_auth(aws_request)
        request = build_request(self.endpoint(node), None, b"{}")
        for name, value in aws_request.headers.items():
            request.set_header(name, value)
        response = send(request, self.ca, timeout)
        if response.status != 200:
            raise RuntimeError(f"GetNodeStatus on node {node}: {response}")
        return response.json()

    def try_status(self, node: int, timeout: float = STATUS_TIMEOUT_SECONDS) -> dict | None:
        if node in self.net.down or not self.nodes[node].running():
            return None
        try:
            return self.status(node, timeout)
        except (OSError, RuntimeError, ValueError, http.client.HTTPException):
            return None

    def leader(self, among: list[int], timeout: float, exclude_leader: int | None = None) -> int:
        """The node of `among` that says it is Leader and that every answering node of `among` names."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            statuses = {n: self.try_status(n) for n in among}
            last = statuses
            leaders = [n for n, s in statuses.items() if s and s.get("Role") == "Leader"]
            if len(leaders) == 1 and leaders[0] != exclude_leader:
                named = {s.get("LeaderId") for s in statuses.values() if s}
                if named == {leaders[0]}:
                    return leaders[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no agreed leader among nodes {among} within {timeout} s: {last}")
            time.sleep(0.1)

    def wait_healthy(self, timeout: float) -> int:
        """Every node runs and answers; one leader that all name; every lease valid, none sealed;
        and every node has applied what the leader had committed when this began. Returns the leader."""
        deadline = time.monotonic() + timeout
        target = None
        last = None
        while True:
            statuses = {n: self.try_status(n) for n in NODES}
            last = statuses
            if all(statuses.values()):
                leaders = [n for n, s in statuses.items() if s.get("Role") == "Leader"]
                named = {s.get("LeaderId") for s in statuses.values()}
                if len(leaders) == 1 and named == {leaders[0]}:
                    if target is None:
                        target = statuses[leaders[0]].get("CommitIndex", 0)
                    if all(s.get("LeaseValid") and not s.get("Sealed") and s.get("AppliedIndex", -1) >= target
                           for s in statuses.values()):
                        return leaders[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster was not healthy within {timeout} s (commit target {target}): {last}")
            time.sleep(0.1)

    # -- logs

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(f"----- {r.log_path} (last {lines} lines) -----\n{tail(r.log_path, lines)}"
                         for r in self.nodes.values())

    def log_digest(self, limit: int = 12) -> list[str]:
        """Warning/error/critical lines of every node log, grouped by message (metadata and time
        stripped), most frequent first."""
        counts: dict[str, list] = {}
        pattern = re.compile(r"^\S+ (warning|error|critical|fatal|notice) keyraft: (.*)$")
        # `k=v k=v [Module] message`; values may hold spaces.
        module_message = re.compile(r"(\[[A-Za-z]+\] [^\[]*)$")
        error_value = re.compile(r"\berror=(.+?)(?= [A-Za-z]+=| \[[A-Za-z]+\] |$)")
        for record in self.nodes.values():
            try:
                text = record.log_path.read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                match = pattern.match(line)
                if match:
                    level, rest = match.groups()
                    found = module_message.search(rest)
                    message = found.group(1).strip() if found else rest
                    error = error_value.search(rest)
                    key = f"{level}: {message}" + (f" (error={error.group(1)[:100]})" if error else "")
                    entry = counts.setdefault(key, [0, set()])
                    entry[0] += 1
                    entry[1].add(record.node_id)
                elif "Fatal error" in line or "Crash" in line or "panic" in line.lower():
                    entry = counts.setdefault(f"CRASH: {line.strip()[:200]}", [0, set()])
                    entry[0] += 1
                    entry[1].add(record.node_id)
        ranked = sorted(counts.items(), key=lambda kv: -kv[1][0])
        return [f"{n:5d} x  {k}  (nodes {sorted(nodes)})" for k, (n, nodes) in ranked[:limit]]
