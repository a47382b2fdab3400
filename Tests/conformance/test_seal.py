"""Sealed start: the root key exists only as Shamir shares; nodes replicate but serve no
cryptography until `keyraft operator unseal` has given each enough shares.

Runs its own `keyraft dev --sealed` cluster (5 shares, 3 needed, in D/unseal-shares)."""
import os
import signal
import subprocess
import time

import pytest

from keyraft_cluster import Cluster, keyraft_binary


class SealedCluster(Cluster):
    def start(self) -> None:
        log = open(self.dev_log_path, "ab")
        self._log_files.append(log)
        self.dev = subprocess.Popen(
            [str(self.binary), "dev", "--dir", str(self.dir), "--nodes", "3", "--sealed"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        endpoints = self.dir / "endpoints"
        deadline = time.monotonic() + 90
        while not endpoints.exists():
            assert self.dev.poll() is None, f"keyraft dev exited with {self.dev.returncode}"
            assert time.monotonic() < deadline, "keyraft dev --sealed did not come up"
            time.sleep(0.2)
        import json
        from keyraft_cluster import parse_env_file
        self.endpoints = [line.strip() for line in endpoints.read_text().splitlines() if line.strip()]
        self.credentials = json.loads((self.dir / "credentials.json").read_text())["credentials"]
        self.env = parse_env_file(self.dir / "env")

    def shares(self) -> list[str]:
        return (self.dir / "unseal-shares").read_text().split()

    def unseal(self, share: str) -> subprocess.CompletedProcess:
        """`keyraft operator unseal`, the share on stdin, against every node."""
        env = {**os.environ, **self.env, "KEYRAFT_ENDPOINTS": ",".join(self.endpoints)}
        return subprocess.run([str(self.binary), "operator", "unseal"], input=share + "\n", env=env,
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    cluster = SealedCluster(keyraft_binary(), tmp_path_factory.mktemp("sealed"))
    try:
        cluster.start()
        yield cluster
    finally:
        problems = cluster.stop()
        assert not problems, problems


def test_a_sealed_cluster_elects_and_replicates_but_serves_no_cryptography(sealed):
    assert not (sealed.dir / "root.key").exists(), "a sealed cluster must not have a root key file"
    check = (sealed.dir / "root.check").read_text().strip()
    assert len(check) == 64
    assert oct(os.stat(sealed.dir / "unseal-shares").st_mode & 0o777) == "0o600"
    statuses = [sealed.status(n) for n in sealed.node_ids]
    assert all(s["Sealed"] for s in statuses)
    assert sum(1 for s in statuses if s["Role"] == "Leader") == 1
    client = sealed.client(1, max_attempts=1)
    with pytest.raises(client.exceptions.DependencyTimeoutException, match="sealed"):
        client.create_key(Description="while sealed")
    # Reads that need no key material are served, from the replicated state.
    assert client.list_keys()["Keys"] == []


def test_below_threshold_duplicate_foreign_and_malformed_shares_do_not_unseal(sealed, tmp_path):
    shares = sealed.shares()
    assert len(shares) == 5
    first = sealed.unseal(shares[0])
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("sealed, 1 of 3 shares given") == 3, first.stdout

    again = sealed.unseal(shares[0])
    assert again.returncode != 0 and again.stdout.count("given already") == 3, again.stdout

    malformed = sealed.unseal("keyraft-share-1-zz")
    assert malformed.returncode != 0 and "ValidationException" in malformed.stdout, malformed.stdout

    # A share of another split (another cluster's root key) is refused.
    other = subprocess.run([str(sealed.binary), "operator", "init", "--shares", "3", "--threshold", "2",
                            "--check-file", str(tmp_path / "other.check")], capture_output=True, text=True, timeout=30)
    assert other.returncode == 0, other.stderr
    foreign = [line.split(": ", 1)[1] for line in other.stdout.splitlines() if line.startswith("share ")]
    assert len(foreign) == 3
    refused = sealed.unseal(foreign[0])
    assert refused.returncode != 0 and refused.stdout.count("different split") == 3, refused.stdout

    second = sealed.unseal(shares[1])
    assert second.stdout.count("sealed, 2 of 3 shares given") == 3, second.stdout
    assert all(sealed.status(n)["Sealed"] for n in sealed.node_ids)


def test_threshold_shares_unseal_and_a_restart_seals_again(sealed):
    third = sealed.unseal(sealed.shares()[2])
    assert third.returncode == 0 and third.stdout.count("unsealed") == 3, third.stdout
    assert not any(sealed.status(n)["Sealed"] for n in sealed.node_ids)
    client = sealed.client(2)
    key = client.create_key(Description="after unseal")["KeyMetadata"]["Arn"]
    blob = client.encrypt(KeyId=key, Plaintext=b"sealed secrets")["CiphertextBlob"]
    assert sealed.client(3).decrypt(CiphertextBlob=blob)["Plaintext"] == b"sealed secrets"
    for node in sealed.node_ids:
        log = (sealed.dir / f"node-{node}.log").read_text()
        assert not any(share in log for share in sealed.shares()), "a share reached a log"

    # A restarted node comes back sealed: the key lived only in memory.
    pid = sealed.pid(3)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while (sealed.dir / "node-3.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process = subprocess.Popen([str(sealed.binary), "server", "--config", str(sealed.dir / "node-3.yaml")],
                               stdout=open(sealed.dir / "node-3.log", "ab"), stderr=subprocess.STDOUT)
    sealed.restarted[3] = process
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        status = sealed.try_status(3)
        if status and status.get("LeaderId"):
            break
        time.sleep(0.2)
    assert status and status["Sealed"], status
    # It still replicates: the key created above is listed there.
    listed = sealed.client(3).list_keys()["Keys"]
    assert any(k["KeyArn"] == key for k in listed)
