"""The `keyraft dev` contract: the files it writes and each node's status."""

from __future__ import annotations

import stat
import time
import urllib.parse
from pathlib import Path

from keyraft_cluster import ADMIN_PRINCIPAL, LIMITED_PRINCIPAL, NODE_STATUS_TARGET, REGION, _pid_alive

ROLES = {"Leader", "Follower", "Candidate", "PreCandidate"}


def test_dev_writes_endpoints_env_and_credentials(cluster):
    d = cluster.dir
    ports = set()
    for endpoint in cluster.endpoints:
        parts = urllib.parse.urlsplit(endpoint)
        assert parts.scheme == "https" and parts.hostname == "127.0.0.1" and parts.port, endpoint
        assert parts.path in ("", "/"), endpoint
        ports.add(parts.port)
    assert len(ports) == 3, f"three distinct ports: {cluster.endpoints}"

    assert (d / "ca.pem").is_file()
    for n in cluster.node_ids:
        assert (d / f"node-{n}.yaml").is_file(), f"node-{n}.yaml"
        assert _pid_alive(cluster.pid(n)), f"node {n} pid {cluster.pid(n)} is not running"

    mode = stat.S_IMODE((d / "credentials.json").stat().st_mode)
    assert mode == 0o600, f"credentials.json has mode {oct(mode)}"
    principals = [c["principalArn"] for c in cluster.credentials]
    assert principals[:2] == [ADMIN_PRINCIPAL, LIMITED_PRINCIPAL]
    admin, limited = cluster.credentials[:2]
    assert admin["accountId"] == limited["accountId"] == "111122223333"
    assert set(admin["allowedActions"]) == {"kms:*", "keyraft:*"}
    assert set(limited["allowedActions"]) == {"kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"}
    assert admin["accessKeyId"] != limited["accessKeyId"]

    env = cluster.env
    assert env["AWS_ENDPOINT_URL_KMS"].rstrip("/") == cluster.endpoints[0].rstrip("/")
    assert Path(env["AWS_CA_BUNDLE"]).resolve() == (d / "ca.pem").resolve()
    assert env["AWS_ACCESS_KEY_ID"] == admin["accessKeyId"]
    assert env["AWS_SECRET_ACCESS_KEY"] == admin["secretAccessKey"]
    assert env["AWS_REGION"] == REGION


def test_node_status_agrees_on_one_leader(cluster):
    deadline = time.monotonic() + 10
    while True:
        statuses = {n: cluster.status(n) for n in cluster.node_ids}
        if all(s.get("LeaseValid") is True for s in statuses.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    leaders = [n for n, s in statuses.items() if s["Role"] == "Leader"]
    assert len(leaders) == 1, statuses
    leader = leaders[0]
    for n, s in statuses.items():
        assert s["NodeId"] == n, f"endpoint {n} answers as node {s['NodeId']}"
        assert s["Role"] in ROLES
        assert s["Role"] == ("Leader" if n == leader else "Follower"), statuses
        assert s["LeaderId"] == leader, statuses
        assert s["Term"] >= 1 and s["Term"] == statuses[leader]["Term"], statuses
        assert 0 <= s["AppliedIndex"] <= s["CommitIndex"], s
        assert s["Sealed"] is False, s
        assert s["LeaseValid"] is True, s
    assert statuses[leader]["CommitIndex"] >= 1


def test_node_status_needs_a_signature(cluster):
    unsigned = cluster.send(cluster.request(1, NODE_STATUS_TARGET))
    assert unsigned.status == 400 and unsigned.error_type == "MissingAuthenticationToken", unsigned
    request = cluster.request(1, NODE_STATUS_TARGET)
    request.sign("AKIAUNKNOWNKEY000000", "not-a-secret")
    unknown = cluster.send(request)
    assert unknown.status == 400 and unknown.error_type == "UnrecognizedClientException", unknown


def test_node_status_needs_the_keyraft_permission(cluster):
    """KeyraftAdmin.<Name> needs the identity permission keyraft:<Name>; the limited user has none."""
    denied = cluster.send(cluster.sign(cluster.request(1, NODE_STATUS_TARGET), "limited"))
    assert denied.status == 400 and denied.error_type == "AccessDeniedException", denied
