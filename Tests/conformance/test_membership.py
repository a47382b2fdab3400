"""Cluster administration through the real CLI: `keyraft cluster status`, `snapshot`,
`add-learner`, `promote`, `transfer-leader` and `remove`, each run as an operator would
(`bash -c '. D/env && KEYRAFT_ENDPOINTS=… keyraft cluster …'`), observed with
`KeyraftAdmin.GetNodeStatus`.

The tests change membership and kill nodes, so they run on their own `keyraft dev` cluster
(`own_cluster`, its own temporary folder), never the session's. They build on each other in
file order: node 4 joins (by snapshot), becomes a voter, leads for a moment, and leaves."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyraft_cluster import JSON_CONTENT_TYPE, NODE_STATUS_TARGET, REGION, SERVICE, own_cluster

NEW_NODE = 4
ORIGINAL = [1, 2, 3]
#: Bounds, unit last.
CATCH_UP_WAIT_SECONDS = 30
MEMBERSHIP_WAIT_SECONDS = 15
LEADER_MOVE_WAIT_SECONDS = 10
#: A snapshot keeps this many log entries behind it (`entriesKeptAfterSnapshot`): only a log
#: longer than that is compacted by `keyraft cluster snapshot`.
ENTRIES_KEPT_AFTER_SNAPSHOT = 100


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    with own_cluster(tmp_path_factory.mktemp("membership")) as running:
        print(f"\nmembership cluster in {running.dir}: {running.endpoints}")
        yield running


@pytest.fixture(autouse=True)
def _members_still_running(request):
    if "members" not in request.fixturenames:
        return
    running = request.getfixturevalue("members")
    running.reap()
    problem = running.problem()
    if problem:
        pytest.fail(f"the membership cluster is down: {problem} (logs in {running.work})", pytrace=False)


# MARK: - Helpers


def cli(members, *args: str, ok: bool = True):
    """`keyraft ARGS` through `D/env`, with every node's endpoint in KEYRAFT_ENDPOINTS."""
    result = members.keyraft(*args)
    if ok:
        assert result.returncode == 0, \
            f"keyraft {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result


def wait_for(what: str, probe, timeout: float, interval: float = 0.1):
    """Calls `probe()` until it returns something truthy; fails naming `what` and the last value seen.
    `probe` returns `(done, observation)`."""
    deadline = time.monotonic() + timeout
    observation = None
    while True:
        done, observation = probe()
        if done:
            return observation
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s; last seen: {observation}"
        time.sleep(interval)


def statuses(members) -> dict[int, dict | None]:
    return {n: members.try_status(n) for n in members.node_ids}


def progress_of(leader_status: dict, node: int) -> dict | None:
    return next((p for p in leader_status.get("Progress", []) if p["NodeId"] == node), None)


def leader_status(members) -> dict:
    return members.status(members.leader())


def wait_applied_everywhere(members, nodes: list[int], timeout: float = CATCH_UP_WAIT_SECONDS) -> int:
    """Waits until each node's AppliedIndex reaches the leader's CommitIndex; returns that index."""
    def probe():
        commit = leader_status(members)["CommitIndex"]
        seen = {n: (members.try_status(n) or {}).get("AppliedIndex") for n in nodes}
        return all(a is not None and a >= commit for a in seen.values()), (commit, seen)
    commit, _ = wait_for(f"nodes {nodes} apply the leader's commit index", probe, timeout)
    return commit


def transfer_leadership(members, target: int) -> None:
    result = cli(members, "cluster", "transfer-leader", str(target))
    assert f"TransferLeader node {target}" in result.stdout, result.stdout
    def moved():
        leader = members.leader()
        return leader == target, leader
    wait_for(f"node {target} leads", moved, LEADER_MOVE_WAIT_SECONDS)


class ProgressWatcher:
    """Polls the leader's status as fast as it answers, on one kept-alive connection, and keeps
    every distinct (State, Match, Next, Learner) it reports for one follower. A snapshot to a
    small learner takes milliseconds, so a new TLS connection per poll would miss it."""

    def __init__(self, members, leader: int, follower: int):
        self.members, self.leader, self.follower = members, leader, follower
        self.seen: list[dict] = []
        self.polls = 0
        self.started = time.monotonic()
        self.changed_at: list[float] = []  # seconds after the start, one per entry of `seen`
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _status(self, connection: http.client.HTTPSConnection) -> dict:
        creds = self.members.admin
        request = AWSRequest(method="POST", url=self.members.endpoint(self.leader) + "/", data=b"{}",
                             headers={"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": NODE_STATUS_TARGET})
        SigV4Auth(Credentials(creds["accessKeyId"], creds["secretAccessKey"]), SERVICE, REGION).add_auth(request)
        connection.request("POST", "/", body=b"{}", headers=dict(request.headers.items()))
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, body
        return json.loads(body)

    def _run(self):
        parts = urllib.parse.urlsplit(self.members.endpoint(self.leader))
        context = ssl.create_default_context(cafile=self.members.ca)
        connection = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=5)
                status = self._status(connection)
            except (OSError, AssertionError, ValueError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.01)
                continue
            self.polls += 1
            for entry in status.get("Progress", []):
                if entry.get("NodeId") == self.follower:
                    compact = {k: entry.get(k) for k in ("State", "Match", "Next", "Learner")}
                    if not self.seen or self.seen[-1] != compact:
                        self.seen.append(compact)
                        self.changed_at.append(round(time.monotonic() - self.started, 3))
        if connection is not None:
            connection.close()

    @property
    def states(self) -> list[str]:
        return [entry["State"] for entry in self.seen]


# MARK: - Status


def test_cluster_status_shows_one_leader_and_every_nodes_indexes(members):
    leader = members.leader()
    table = cli(members, "cluster", "status")
    lines = table.stdout.splitlines()
    assert re.fullmatch(rf"leader: node {leader}  term \d+", lines[0]), table.stdout
    assert lines[1].split() == ["node", "role", "term", "commit", "applied", "lag", "lease", "sealed", "endpoint"], table.stdout
    rows = {}
    for line in lines[2:]:
        if line.startswith("leader last heard from"):
            continue
        words = line.split()
        rows[int(words[0])] = dict(zip(["node", "role", "term", "commit", "applied", "lag", "lease", "sealed", "endpoint"], words))
    assert sorted(rows) == ORIGINAL, table.stdout
    assert [n for n, row in rows.items() if row["role"] == "Leader"] == [leader], table.stdout
    for n, row in rows.items():
        assert row["role"] in ("Leader", "Follower"), table.stdout
        assert row["term"].isdigit() and row["commit"].isdigit() and row["applied"].isdigit(), table.stdout
        assert row["sealed"] == "no" and row["endpoint"] == members.endpoint(n), table.stdout
    assert re.search(r"^leader last heard from: node \d+ \d+ ms ago", table.stdout, re.MULTILINE), table.stdout

    document = json.loads(cli(members, "cluster", "status", "--json").stdout)
    assert isinstance(document, list) and len(document) == len(ORIGINAL), document
    by_node = {row["NodeId"]: row for row in document}
    assert sorted(by_node) == ORIGINAL, document
    assert [n for n, row in by_node.items() if row["Role"] == "Leader"] == [leader], document
    terms = {row["Term"] for row in document}
    assert len(terms) == 1, f"one term expected on a settled cluster: {document}"
    for n, row in by_node.items():
        assert row["Endpoint"] == members.endpoint(n)
        assert row["LeaderId"] == leader, row
        assert row["Role"] in ("Leader", "Follower"), row
        for field in ("Term", "CommitIndex", "AppliedIndex"):
            assert isinstance(row[field], int) and row[field] >= 1, (field, row)
        assert row["AppliedIndex"] <= row["CommitIndex"], row
        assert row["Voters"] == ORIGINAL and row["Learners"] == [], row
        assert row["Sealed"] is False and row["LeaseValid"] is True, row
    assert sorted(p["NodeId"] for p in by_node[leader]["Progress"]) == ORIGINAL, by_node[leader]
    # The CLI reports what GetNodeStatus answers.
    direct = members.status(leader)
    assert direct["Term"] == by_node[leader]["Term"] and direct["Role"] == "Leader"


def test_cluster_snapshot_fails_when_a_node_does_not_answer(members):
    """`keyraft cluster snapshot` snapshots every node it can reach, and exits non-zero naming
    the count when one (here an endpoint nothing listens on) did not."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{probe.getsockname()[1]}"
    endpoints = [members.endpoint(n) for n in ORIGINAL] + [closed]
    result = members.keyraft("cluster", "snapshot", endpoints=endpoints)
    assert result.returncode != 0, result.stdout + result.stderr
    for n in ORIGINAL:
        assert re.search(rf"^{re.escape(members.endpoint(n))}: snapshot at index \d+$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(rf"^{re.escape(closed)}: ", result.stdout, re.MULTILINE), result.stdout
    assert f"1 of {len(endpoints)} node(s) did not snapshot" in result.stdout, result.stdout


# MARK: - Adding a node


def test_a_new_node_catches_up_by_snapshot_as_learner_then_is_promoted(members):
    leader = members.leader()
    admin = members.client(leader)
    keys = [admin.create_key(Description=f"before node {NEW_NODE} joined, {i}")["KeyMetadata"]["KeyId"] for i in range(2)]
    admin.create_alias(AliasName="alias/membership-before-join", TargetKeyId=keys[0])
    admin.rotate_key_on_demand(KeyId=keys[1])
    plaintexts = [f"made before node {NEW_NODE} joined #{i}".encode() for i in range(4)]
    blobs = [admin.encrypt(KeyId=keys[i % 2], Plaintext=p, EncryptionContext={"n": str(i)})["CiphertextBlob"]
             for i, p in enumerate(plaintexts)]
    # More log than a snapshot keeps, so that the snapshot compacts some of it away; keys
    # rather than smaller writes, so that the snapshot takes long enough to be seen sent.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: members.client(leader).create_key(Description=f"filler {i}"),
                      range(ENTRIES_KEPT_AFTER_SNAPSHOT + 20)))
    written = wait_applied_everywhere(members, ORIGINAL)
    assert written > ENTRIES_KEPT_AFTER_SNAPSHOT + 20, written

    # Snapshot and compact every node's log: node 4 cannot be sent those entries any more.
    snapshot = cli(members, "cluster", "snapshot")
    indexes = dict(re.findall(r"^(https://\S+): snapshot at index (\d+)$", snapshot.stdout, re.MULTILINE))
    assert sorted(indexes) == sorted(members.endpoint(n) for n in ORIGINAL), snapshot.stdout
    assert all(int(i) >= written for i in indexes.values()), f"snapshots below the writes' index {written}: {snapshot.stdout}"
    snapshot_index = min(int(i) for i in indexes.values())
    compacted_to = snapshot_index - ENTRIES_KEPT_AFTER_SNAPSHOT

    # Node 4's certificate, configuration and the peers' reload (SIGHUP).
    endpoint = members.add_node_files(NEW_NODE)
    config = members.config_path(NEW_NODE).read_text()
    assert members.config_value(NEW_NODE, "nodeId") == str(NEW_NODE)
    assert endpoint == "https://" + members.config_value(NEW_NODE, "apiAddress"), config
    assert members.config_value(NEW_NODE, "dataDir") == f"node-{NEW_NODE}", config
    assert members.config_value(NEW_NODE, "pidFile") == f"node-{NEW_NODE}.pid", config
    assert f"certificate: node-{NEW_NODE}.pem" in config and f"privateKey: node-{NEW_NODE}.key" in config, config
    assert members.config_value(NEW_NODE, "initialVoters") == "[1, 2, 3]", config
    for n in ORIGINAL:
        assert re.search(rf'^  {n}: "127\.0\.0\.1:\d+"$', config, re.MULTILINE), config
        assert members.config_value(n, "peerAddress") in config
        peers_line = [l for l in members.node_logs(n)[-1].read_text().splitlines() if "peers reloaded" in l][-1]
        expected = sorted(set(ORIGINAL + [NEW_NODE]) - {n})
        assert f"peers={expected}" in peers_line, peers_line
        assert f'{NEW_NODE}: "{members.config_value(NEW_NODE, "peerAddress")}"' in members.config_path(n).read_text()

    members.start_node(NEW_NODE)
    def answers():
        status = members.try_status(NEW_NODE)
        return status is not None, status
    before = wait_for("node 4 answers its status", answers, MEMBERSHIP_WAIT_SECONDS)
    assert before["Role"] != "Leader" and NEW_NODE not in before.get("Voters", []), before
    assert before["AppliedIndex"] < snapshot_index, f"node 4 starts empty: {before}"

    with ProgressWatcher(members, leader, NEW_NODE) as watcher:
        added = cli(members, "cluster", "add-learner", str(NEW_NODE))
        assert f"AddLearner node {NEW_NODE}: proposed to the leader at {members.endpoint(leader)}" in added.stdout, added.stdout

        def caught_up():
            lead = members.status(leader)
            mine = members.try_status(NEW_NODE) or {}
            done = mine.get("Role") == "Learner" and mine.get("AppliedIndex", -1) >= lead["CommitIndex"]
            return done, {"node4": mine, "leaderCommit": lead["CommitIndex"]}
        wait_for("node 4 is a learner and applied the leader's commit index", caught_up, CATCH_UP_WAIT_SECONDS)
        lead = members.status(leader)
        progress = progress_of(lead, NEW_NODE)

        def replicating():
            entry = progress_of(members.status(leader), NEW_NODE)
            return entry is not None and entry["State"] == "StateReplicate", entry
        wait_for("the leader replicates to node 4", replicating, MEMBERSHIP_WAIT_SECONDS)
    print(f"leader's Progress for node {NEW_NODE} after add-learner ({watcher.polls} polls): "
          f"{list(zip(watcher.changed_at, watcher.seen))}")
    assert progress is not None and progress["Learner"] is True, lead
    assert progress["Match"] >= snapshot_index, f"node 4's match below the snapshot index {snapshot_index}: {lead}"
    assert lead["Voters"] == ORIGINAL and lead["Learners"] == [NEW_NODE], lead
    # Node 4 started with an empty log and every other log now starts after `compacted_to`:
    # its state can only have come in a snapshot. The leader's Progress shows it: either in
    # StateSnapshot, or probing at an index compacted away and then matching past it.
    probed_compacted = [i for i, p in enumerate(watcher.seen) if p["Next"] <= compacted_to]
    matched_after = probed_compacted and any(p["Match"] >= snapshot_index for p in watcher.seen[probed_compacted[0]:])
    assert "StateSnapshot" in watcher.states or matched_after, \
        f"the leader's Progress for node 4 does not show a snapshot (log compacted to {compacted_to}): {watcher.seen}"

    # What was written before node 4 existed, read on node 4.
    mine = members.client(NEW_NODE)
    for i, (blob, plaintext) in enumerate(zip(blobs, plaintexts)):
        answer = mine.decrypt(CiphertextBlob=blob, EncryptionContext={"n": str(i)})
        assert answer["Plaintext"] == plaintext and answer["KeyId"].endswith(keys[i % 2])
    assert mine.describe_key(KeyId="alias/membership-before-join")["KeyMetadata"]["KeyId"] == keys[0]

    promoted = cli(members, "cluster", "promote", str(NEW_NODE))
    assert f"PromoteLearner node {NEW_NODE}: proposed" in promoted.stdout, promoted.stdout

    def is_voter():
        lead, mine_status = members.status(members.leader()), members.try_status(NEW_NODE) or {}
        done = mine_status.get("Role") == "Follower" and NEW_NODE in lead["Voters"] and lead["Learners"] == []
        return done, {"node4": mine_status.get("Role"), "voters": lead["Voters"], "learners": lead["Learners"]}
    wait_for("node 4 is a voter", is_voter, MEMBERSHIP_WAIT_SECONDS)
    def everywhere():
        seen = statuses(members)
        return all(x and x["Voters"] == ORIGINAL + [NEW_NODE] for x in seen.values()), seen
    wait_for("every node lists node 4 as a voter", everywhere, MEMBERSHIP_WAIT_SECONDS)
    # The table lists it too.
    table = cli(members, "cluster", "status").stdout
    assert re.search(rf"^{NEW_NODE}\s+Follower\s+\d+", table, re.MULTILINE), table
    # A write through node 4 commits with it as a voter.
    assert mine.create_key(Description="made through node 4")["KeyMetadata"]["Enabled"] is True


# MARK: - Leadership


def test_transfer_leader_moves_leadership(members):
    old = members.leader()
    target = NEW_NODE if old != NEW_NODE else 1
    transfer_leadership(members, target)
    table = cli(members, "cluster", "status").stdout
    assert table.startswith(f"leader: node {target}  term "), table
    assert all(s and s["LeaderId"] == target for s in statuses(members).values())
    # And back to an original node, which the removal tests below need as leader.
    back = next(n for n in ORIGINAL if n != old) if old in ORIGINAL else 1
    transfer_leadership(members, back)
    assert cli(members, "cluster", "status").stdout.startswith(f"leader: node {back}  term ")


# MARK: - Removal


def test_removing_the_leader_is_refused(members):
    leader = members.leader()
    result = cli(members, "cluster", "remove", str(leader), ok=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "transfer leadership" in output and "first" in output, output
    assert leader in members.status(leader)["Voters"]


def test_removing_a_voter_is_refused_while_the_rest_would_not_be_a_majority(members):
    leader = members.leader()
    assert leader != NEW_NODE, "the transfer test leaves an original node leading"
    assert members.status(leader)["Voters"] == ORIGINAL + [NEW_NODE]
    # Two non-leader voters die (node 4 one of them, so that it is still there to be removed
    # afterwards whatever happens here); the third non-leader voter is asked to be removed.
    others = [n for n in ORIGINAL if n != leader]
    victims, target = [others[0], NEW_NODE], others[1]
    for n in victims:
        members.kill_node(n)  # returns once the process is gone (its links with it)
    killed_at = time.monotonic()
    # Removing it would leave {leader, two dead voters}: one of three up. The operator asks
    # right away; a little later there is no leader to ask (two of four voters are no quorum).
    result = cli(members, "cluster", "remove", str(target), ok=False)
    asked_after = time.monotonic() - killed_at
    seen = members.try_status(leader) or {}
    output = result.stdout + result.stderr
    try:
        assert result.returncode != 0 and "majority" in output, (
            f"`keyraft cluster remove {target}` {asked_after:.2f} s after SIGKILL of voters {victims} "
            f"(leader {leader}, voters {ORIGINAL + [NEW_NODE]}): exit {result.returncode}, output:\n{output}\n"
            f"leader's status right after: Role {seen.get('Role')}, LastContactMs {seen.get('LastContactMs')}, "
            f"CommitIndex {seen.get('CommitIndex')}, LastIndex {seen.get('LastIndex')}")
    finally:
        for n in victims:
            members.start_node(n)
        members.wait_ready()
        wait_applied_everywhere(members, members.node_ids)
    voters = members.status(members.leader())["Voters"]
    assert voters == ORIGINAL + [NEW_NODE], f"the refused removal of node {target} must not have happened: voters {voters}"


def test_removing_a_voter_with_the_others_up_succeeds(members):
    if members.leader() == NEW_NODE:
        transfer_leadership(members, 1)
    voters = members.status(members.leader())["Voters"]
    assert NEW_NODE in voters, voters
    # Normally 1-3 stay; fewer if the previous test saw a removal accepted (it fails then).
    staying = [n for n in voters if n != NEW_NODE]
    result = cli(members, "cluster", "remove", str(NEW_NODE))
    assert f"RemoveNode node {NEW_NODE}: proposed" in result.stdout, result.stdout

    def gone():
        seen = {n: members.try_status(n) for n in staying}
        done = all(s and s["Voters"] == staying and s["Learners"] == [] for s in seen.values())
        return done, {n: s and (s["Voters"], s["Learners"]) for n, s in seen.items()}
    wait_for("node 4 leaves every node's Voters", gone, MEMBERSHIP_WAIT_SECONDS)
    leader = members.leader(among=staying)
    assert NEW_NODE not in [p["NodeId"] for p in members.status(leader).get("Progress", [])]
    members.close_clients()  # idle TLS connections would hold the stopping node for seconds
    members.kill_node(NEW_NODE, sig=15)  # SIGTERM: a removed node is simply stopped
    members.reap()
    # Three voters, all up: writes still commit.
    assert members.client(leader).create_key(Description="after node 4 left")["KeyMetadata"]["Enabled"] is True
    table = cli(members, "cluster", "status").stdout
    assert table.startswith(f"leader: node {leader}  term "), table
