"""The aws CLI, configured only by sourcing `D/env` (endpoint, CA bundle, credentials, region)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid

import pytest

from keyraft_cluster import KEY_ARN_RE, aws_client_env

CLI_TIMEOUT_SECONDS = 60


def aws(cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`bash -c '. D/env && aws kms ...'` in an environment with no other AWS settings."""
    command = ["bash", "-c", '. "$1" && shift && exec aws kms "$@"', "bash", str(cluster.dir / "env"), *args]
    result = subprocess.run(command, env=aws_client_env(), capture_output=True, text=True, check=False,
                            timeout=CLI_TIMEOUT_SECONDS, cwd=cluster.work)
    if check:
        assert result.returncode == 0, f"aws kms {' '.join(args)} exited {result.returncode}: {result.stderr}"
    return result


def aws_json(cluster, *args: str) -> dict:
    out = aws(cluster, *args, "--output", "json").stdout
    return json.loads(out) if out.strip() else {}


@pytest.fixture(scope="module", autouse=True)
def _aws_cli_present():
    if shutil.which("aws") is None:
        pytest.fail("the aws CLI is not installed (pip install awscli)", pytrace=False)


def test_cli_key_alias_encrypt_decrypt(cluster, tmp_path):
    created = aws_json(cluster, "create-key", "--description", "conformance: aws cli")["KeyMetadata"]
    key_id, arn = created["KeyId"], created["Arn"]
    assert KEY_ARN_RE.match(arn) and created["Description"] == "conformance: aws cli"

    alias = f"alias/conformance-cli-{uuid.uuid4().hex[:12]}"
    aws(cluster, "create-alias", "--alias-name", alias, "--target-key-id", key_id)
    assert aws_json(cluster, "describe-key", "--key-id", alias)["KeyMetadata"]["Arn"] == arn
    listed = aws_json(cluster, "list-aliases", "--key-id", key_id)["Aliases"]
    assert [a["AliasName"] for a in listed] == [alias]

    plaintext = bytes(range(256)) * 4
    plain_file = tmp_path / "plain.bin"
    plain_file.write_bytes(plaintext)
    encrypted = aws_json(cluster, "encrypt", "--key-id", alias, "--plaintext", f"fileb://{plain_file}",
                         "--encryption-context", "purpose=conformance,tool=aws-cli")
    assert encrypted["KeyId"] == arn
    blob_file = tmp_path / "blob.bin"
    blob_file.write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))

    # Decrypt through D/env (node 1), then on every node with --endpoint-url.
    decrypted = aws_json(cluster, "decrypt", "--ciphertext-blob", f"fileb://{blob_file}",
                         "--encryption-context", "purpose=conformance,tool=aws-cli")
    assert base64.b64decode(decrypted["Plaintext"]) == plaintext
    assert decrypted["KeyId"] == arn
    for endpoint in cluster.endpoints:
        text = aws(cluster, "decrypt", "--endpoint-url", endpoint, "--ciphertext-blob", f"fileb://{blob_file}",
                   "--encryption-context", "purpose=conformance,tool=aws-cli",
                   "--output", "text", "--query", "Plaintext").stdout
        assert base64.b64decode(text.strip()) == plaintext, endpoint

    wrong = aws(cluster, "decrypt", "--ciphertext-blob", f"fileb://{blob_file}", check=False)
    assert wrong.returncode != 0 and "InvalidCiphertextException" in wrong.stderr, wrong.stderr


def test_cli_data_keys_and_errors(cluster, tmp_path):
    key_id = aws_json(cluster, "create-key")["KeyMetadata"]["KeyId"]
    data_key = aws_json(cluster, "generate-data-key", "--key-id", key_id, "--key-spec", "AES_256")
    assert len(base64.b64decode(data_key["Plaintext"])) == 32
    random = aws_json(cluster, "generate-random", "--number-of-bytes", "16")
    assert len(base64.b64decode(random["Plaintext"])) == 16
    missing = aws(cluster, "describe-key", "--key-id", "alias/conformance-cli-never-created", check=False)
    assert missing.returncode != 0 and "NotFoundException" in missing.stderr, missing.stderr
    aws(cluster, "disable-key", "--key-id", key_id)
    plain_file = tmp_path / "plain.bin"
    plain_file.write_bytes(b"refused")
    disabled = aws(cluster, "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain_file}", check=False)
    assert disabled.returncode != 0 and "DisabledException" in disabled.stderr, disabled.stderr
