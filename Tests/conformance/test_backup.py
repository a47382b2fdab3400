"""Encrypted backups: `keyraft backup create` from a running cluster, refusals of a wrong
key and of any modification, no plaintext key material in the file, and a new cluster
restored from it in which every ciphertext made before the backup decrypts.

Runs its own `keyraft dev` cluster; the "new cluster" reuses its folder's configuration,
certificates and root key with fresh, empty data folders."""
import os
import shutil
import subprocess
import time

import pytest

from keyraft_cluster import Cluster, keyraft_binary


def run(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **cluster.env, "KEYRAFT_ENDPOINTS": ",".join(cluster.endpoints)}
    result = subprocess.run([str(cluster.binary), *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"keyraft {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    cluster = Cluster(keyraft_binary(), tmp_path_factory.mktemp("backup"))
    try:
        cluster.start()
        yield cluster
    finally:
        problems = cluster.stop()
        assert not problems, problems


def test_backup_and_restore(source, tmp_path):
    client = source.client(1)
    keys = [client.create_key(Description=f"backed up {i}")["KeyMetadata"]["Arn"] for i in range(3)]
    client.create_alias(AliasName="alias/backed-up", TargetKeyId=keys[0])
    client.rotate_key_on_demand(KeyId=keys[1])
    records = []
    data_keys = []
    for i, key in enumerate(keys):
        plaintext = f"secret {i}".encode()
        context = {"purpose": f"p{i}"}
        blob = source.client(2).encrypt(KeyId=key, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
        records.append((blob, plaintext, context))
        generated = source.client(3).generate_data_key(KeyId=key, KeySpec="AES_256")
        data_keys.append(generated["Plaintext"])
        records.append((generated["CiphertextBlob"], generated["Plaintext"], {}))

    backup_key = tmp_path / "backup.key"
    run(source, "backup", "new-key", "--out", str(backup_key))
    assert oct(os.stat(backup_key).st_mode & 0o777) == "0o600"
    backup = tmp_path / "cluster.krbk"
    out = run(source, "backup", "create", "--out", str(backup), "--backup-key-file", str(backup_key))
    assert "applied index" in out.stdout
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    raw = backup.read_bytes()
    assert raw[:4] == b"KRBK"
    # No plaintext key material: neither data keys handed out, nor plaintexts, nor the root key.
    root_key = bytes.fromhex((source.dir / "root.key").read_text().strip())
    for secret in data_keys + [root_key] + [p for _, p, _ in records]:
        assert secret not in raw
    # It refuses to overwrite.
    again = run(source, "backup", "create", "--out", str(backup), "--backup-key-file", str(backup_key), check=False)
    assert again.returncode != 0 and "exists" in (again.stdout + again.stderr)

    # After the backup: a key that must not exist in the restored cluster.
    later = client.create_key(Description="after the backup")["KeyMetadata"]["Arn"]

    # A new cluster from the backup: stop, empty data folders, restore each node, start.
    problems = source.stop()
    assert not problems, problems
    for node in source.node_ids:
        shutil.rmtree(source.dir / f"node-{node}")
    (source.dir / "endpoints").unlink()

    # Wrong key and modified files are refused, and leave the data folder untouched.
    wrong_key = tmp_path / "wrong.key"
    run(source, "backup", "new-key", "--out", str(wrong_key))
    config = str(source.dir / "node-1.yaml")
    refused = run(source, "backup", "restore", "--in", str(backup), "--backup-key-file", str(wrong_key),
                  "--config", config, check=False)
    assert refused.returncode != 0, refused.stdout
    for offset in (0, 5, 13, 30, len(raw) // 2, len(raw) - 1):
        modified = tmp_path / f"modified-{offset}.krbk"
        changed = bytearray(raw)
        changed[offset] ^= 0x01
        modified.write_bytes(bytes(changed))
        result = run(source, "backup", "restore", "--in", str(modified), "--backup-key-file", str(backup_key),
                     "--config", config, check=False)
        assert result.returncode != 0, f"a backup modified at byte {offset} was accepted"
    # A node holding another root key is refused before anything is written: the backup
    # names the root key its key material is wrapped under (its check value).
    other_root = source.dir / "other-root.key"
    run(source, "backup", "new-key", "--out", str(other_root))
    other_config = source.dir / "node-1-other-root.yaml"
    text = (source.dir / "node-1.yaml").read_text()
    assert "rootKeyFile: root.key" in text
    other_config.write_text(text.replace("rootKeyFile: root.key", "rootKeyFile: other-root.key"))
    other = run(source, "backup", "restore", "--in", str(backup), "--backup-key-file", str(backup_key),
                "--config", str(other_config), check=False)
    assert other.returncode != 0 and "another root key" in (other.stdout + other.stderr), other.stdout + other.stderr
    other_config.unlink()
    other_root.unlink()
    truncated = tmp_path / "truncated.krbk"
    truncated.write_bytes(raw[:-1])
    assert run(source, "backup", "restore", "--in", str(truncated), "--backup-key-file", str(backup_key),
               "--config", config, check=False).returncode != 0
    assert not (source.dir / "node-1").exists() or not any((source.dir / "node-1").iterdir())

    for node in source.node_ids:
        out = run(source, "backup", "restore", "--in", str(backup), "--backup-key-file", str(backup_key),
                  "--config", str(source.dir / f"node-{node}.yaml"))
        assert "restored node" in out.stdout
    # Restoring twice into the same folder is refused.
    twice = run(source, "backup", "restore", "--in", str(backup), "--backup-key-file", str(backup_key),
                "--config", config, check=False)
    assert twice.returncode != 0 and "not empty" in (twice.stdout + twice.stderr)

    restored = Cluster(source.binary, source.work)
    restored.start()
    try:
        for node in restored.node_ids:
            c = restored.client(node)
            for blob, plaintext, context in records:
                answer = c.decrypt(CiphertextBlob=blob, EncryptionContext=context) if context else c.decrypt(CiphertextBlob=blob)
                assert answer["Plaintext"] == plaintext
            assert c.describe_key(KeyId="alias/backed-up")["KeyMetadata"]["Arn"] == keys[0]
            with pytest.raises(c.exceptions.NotFoundException):
                c.describe_key(KeyId=later)
        # The restored cluster takes writes.
        new_key = restored.client(2).create_key(Description="after restore")["KeyMetadata"]["Arn"]
        assert restored.client(3).describe_key(KeyId=new_key)["KeyMetadata"]["Enabled"]
        assert len(restored.client(1).list_key_rotations(KeyId=keys[1])["Rotations"]) == 1
    finally:
        problems = restored.stop()
        assert not problems, problems
