"""Health probes, Prometheus metrics and logs on the session's cluster.

Each node's `adminAddress` (in `D/node-N.yaml`, plain HTTP) serves `/healthz`, `/readyz` and
`/metrics` in the Prometheus text format. Neither the metrics nor the node logs may carry a
secret: an access key's secret, the root key, plaintext or an encryption context's value."""

from __future__ import annotations

import base64
import http.client
import math
import re

import pytest
from botocore.exceptions import ClientError

from keyraft_cluster import tail

HTTP_TIMEOUT_SECONDS = 10
PLAINTEXT = b"observability-plaintext-4c9e1d"
CONTEXT_VALUE = "observability-context-value-b81f"

#: `name{labels} value` (labels optional), as Prometheus's text format 0.0.4 writes a sample.
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def get(address: str, path: str) -> tuple[int, dict[str, str], str]:
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT_SECONDS)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode("utf-8")
    finally:
        connection.close()


def parse_labels(text: str) -> dict[str, str]:
    labels, at = {}, 0
    while at < len(text):
        match = LABEL_RE.match(text, at)
        assert match, f"malformed labels {{{text}}} at {at}"
        labels[match.group(1)] = match.group(2)
        at = match.end()
    return labels


def parse_metrics(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """Checks the exposition format line by line; returns ({family: type}, [(name, labels, value)])."""
    types: dict[str, str] = {}
    samples = []
    assert text.endswith("\n"), "the exposition must end with a newline"
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            words = line.split(None, 3)
            if len(words) >= 2 and words[1] == "TYPE":
                assert len(words) == 4 and words[3] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                assert words[2] not in types, f"line {number}: second TYPE for {words[2]}"
                types[words[2]] = words[3]
            continue
        match = SAMPLE_RE.match(line)
        assert match, f"line {number} is not a sample: {line!r}"
        name, _, labels, value, _ = match.groups()
        parsed = float(value)  # also accepts +Inf, -Inf, NaN
        samples.append((name, parse_labels(labels or ""), parsed))
    for name, _, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE line"
    return types, samples


def values(samples, name: str, **labels) -> list[float]:
    return [v for n, l, v in samples if n == name and all(l.get(k) == want for k, want in labels.items())]


def check_histogram(types, samples, family: str, **labels) -> None:
    assert types.get(family) == "histogram", f"{family}: type {types.get(family)}"
    buckets = [(l, v) for n, l, v in samples if n == f"{family}_bucket" and all(l.get(k) == w for k, w in labels.items())]
    assert buckets, f"no {family}_bucket{labels}"
    series: dict[tuple, list[tuple[float, float]]] = {}
    for l, v in buckets:
        assert "le" in l, f"{family}_bucket without le: {l}"
        rest = tuple(sorted((k, w) for k, w in l.items() if k != "le"))
        series.setdefault(rest, []).append((float(l["le"]), v))
    for rest, points in series.items():
        points.sort()
        assert points[-1][0] == math.inf, f"{family}{dict(rest)} has no le=\"+Inf\" bucket"
        counts = [c for _, c in points]
        assert counts == sorted(counts), f"{family}{dict(rest)} buckets are not cumulative: {points}"
        count = [v for n, l, v in samples if n == f"{family}_count" and tuple(sorted(l.items())) == rest]
        total = [v for n, l, v in samples if n == f"{family}_sum" and tuple(sorted(l.items())) == rest]
        assert count == [counts[-1]], f"{family}_count{dict(rest)} {count} != +Inf bucket {counts[-1]}"
        assert len(total) == 1 and total[0] >= 0, f"{family}_sum{dict(rest)}: {total}"


def root_key_forms(cluster) -> dict[str, str]:
    """D/root.key (64 hex characters) as it might leak: hex either case, base64 of its bytes."""
    hex_text = (cluster.dir / "root.key").read_text().strip()
    assert re.fullmatch(r"[0-9a-fA-F]{64}", hex_text), "root.key is not 64 hex characters"
    raw = bytes.fromhex(hex_text)
    return {"the root key (hex)": hex_text.lower(), "the root key (HEX)": hex_text.upper(),
            "the root key (base64)": base64.b64encode(raw).decode()}


@pytest.fixture(scope="module")
def traffic(cluster):
    """Calls on every node (successes, a client error, a wrong signature) before metrics are read."""
    cluster.wait_ready()
    key_id = cluster.client(cluster.leader()).create_key(Description="observability")["KeyMetadata"]["KeyId"]
    for node in cluster.node_ids:
        kms = cluster.client(node)
        blob = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT, EncryptionContext={"app": CONTEXT_VALUE})["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": CONTEXT_VALUE})["Plaintext"] == PLAINTEXT
        with pytest.raises(ClientError):
            kms.describe_key(KeyId="alias/observability-no-such-alias")
        # A wrong signature: the server computes the expected one; neither may be logged.
        request = cluster.request(node, "TrentService.ListKeys", b"{}")
        request.sign(cluster.admin["accessKeyId"], "wrong" + cluster.admin["secretAccessKey"][5:])
        assert cluster.send(request).error_type == "InvalidSignatureException"
    return key_id


@pytest.fixture(scope="module")
def metrics(cluster, traffic) -> dict[int, tuple[str, dict[str, str], list]]:
    """{node: (exposition text, types, samples)}, read from each node in turn."""
    pages = {}
    for node in cluster.node_ids:
        status, headers, text = get(cluster.admin_address(node), "/metrics")
        assert status == 200, f"node {node} /metrics: HTTP {status} {text[:200]!r}"
        assert headers.get("content-type", "").startswith("text/plain"), headers
        types, samples = parse_metrics(text)
        pages[node] = (text, types, samples)
    return pages


def test_every_node_is_healthy_and_ready(cluster):
    cluster.wait_ready()
    for node in cluster.node_ids:
        address = cluster.admin_address(node)
        assert re.fullmatch(r"127\.0\.0\.1:\d+", address), address
        for path in ("/healthz", "/readyz"):
            status, _, body = get(address, path)
            assert status == 200, f"node {node} {path}: HTTP {status} {body!r}"
        status, _, _ = get(address, "/no-such-path")
        assert status == 404


def test_metrics_count_requests_by_operation_and_outcome(cluster, metrics):
    for node, (_, types, samples) in metrics.items():
        assert types.get("keyraft_requests_total") == "counter"
        for _, labels, _ in [s for s in samples if s[0] == "keyraft_requests_total"]:
            assert set(labels) == {"operation", "outcome"}, labels
        assert values(samples, "keyraft_requests_total", operation="TrentService.Encrypt", outcome="success")[0] >= 1
        assert values(samples, "keyraft_requests_total", operation="TrentService.Decrypt", outcome="success")[0] >= 1
        assert values(samples, "keyraft_requests_total", operation="TrentService.DescribeKey",
                      outcome="NotFoundException")[0] >= 1, f"node {node}"
        assert values(samples, "keyraft_requests_total", operation="TrentService.ListKeys",
                      outcome="InvalidSignatureException")[0] >= 1, f"node {node}"
        check_histogram(types, samples, "keyraft_request_duration_seconds", operation="TrentService.Encrypt")
        check_histogram(types, samples, "keyraft_fsync_duration_seconds")
        encrypts = values(samples, "keyraft_request_duration_seconds_count", operation="TrentService.Encrypt")
        assert encrypts and encrypts[0] >= 1, f"node {node}: {encrypts}"


def test_metrics_report_raft_state_lease_links_and_keys(cluster, metrics):
    leader = cluster.leader()
    leaders = []
    for node, (_, types, samples) in metrics.items():
        for gauge in ("keyraft_raft_term", "keyraft_raft_commit_index", "keyraft_raft_applied_index",
                      "keyraft_raft_is_leader", "keyraft_read_lease_valid", "keyraft_keys", "keyraft_peer_link_up"):
            assert types.get(gauge) == "gauge", f"node {node}: {gauge} is {types.get(gauge)}"
        term, commit, applied = (values(samples, name) for name in
                                 ("keyraft_raft_term", "keyraft_raft_commit_index", "keyraft_raft_applied_index"))
        assert len(term) == len(commit) == len(applied) == 1, f"node {node}: {term} {commit} {applied}"
        status = cluster.status(node)
        assert term[0] == status["Term"], f"node {node}: metric term {term[0]}, status {status['Term']}"
        assert 1 <= applied[0] <= commit[0] <= status["CommitIndex"], f"node {node}: {applied} {commit} {status}"
        assert values(samples, "keyraft_raft_is_leader")[0] in (0, 1)
        if values(samples, "keyraft_raft_is_leader")[0] == 1:
            leaders.append(node)
        assert values(samples, "keyraft_read_lease_valid") == [1], f"node {node}"
        assert values(samples, "keyraft_keys")[0] >= 1, f"node {node}"
        links = {l["peer"]: v for n, l, v in samples if n == "keyraft_peer_link_up"}
        assert set(links) <= {str(n) for n in cluster.node_ids if n != node}, f"node {node}: {links}"
        assert all(v in (0, 1) for v in links.values()), links
        if node == leader:
            # The leader sends to every follower, so its link to each is up.
            assert links == {str(n): 1 for n in cluster.node_ids if n != node}, f"leader {node}: {links}"
    assert leaders == [leader], f"keyraft_raft_is_leader is 1 on {leaders}; the leader is {leader}"


def test_metrics_carry_no_secret(cluster, metrics):
    forbidden = {
        **{f"{c['principalArn']}'s secret": c["secretAccessKey"] for c in cluster.credentials},
        **root_key_forms(cluster),
        "the plaintext": PLAINTEXT.decode(),
        "the plaintext in base64": base64.b64encode(PLAINTEXT).decode(),
        "the encryption context's value": CONTEXT_VALUE,
    }
    for node, (text, _, samples) in metrics.items():
        for what, secret in forbidden.items():
            assert secret not in text, f"{what} appears in node {node}'s /metrics"
        for name, labels, _ in samples:
            assert not name.startswith("keyraft_") or all(len(v) < 128 for v in labels.values()), (name, labels)


def test_logs_carry_no_secret(cluster, traffic):
    forbidden = {
        **{f"{c['principalArn']}'s secret": c["secretAccessKey"].encode() for c in cluster.credentials},
        **{what: form.encode() for what, form in root_key_forms(cluster).items()},
        "the plaintext": PLAINTEXT,
        "the plaintext in base64": base64.b64encode(PLAINTEXT),
        "the encryption context's value": CONTEXT_VALUE.encode(),
    }
    logs = [path for path in cluster.log_files() if path.is_file()]
    assert {f"node-{n}.log" for n in cluster.node_ids} <= {p.name for p in logs}, logs
    for path in logs:
        data = path.read_bytes()
        for what, secret in forbidden.items():
            assert secret not in data, f"{what} appears in {path}:\n{tail(path, 5)}"
