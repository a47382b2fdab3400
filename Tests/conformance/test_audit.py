"""The audit trail on the session's cluster: every API call a node answers is one JSON line
in `D/node-N-audit/audit-NNNNNN.jsonl`, hash-chained (`previousHash`, `sequence`), naming the
principal, operation, outcome and request id and only the *keys* of an encryption context.
`keyraft audit verify` accepts the live folder and names the first broken record of a copy
that was edited, cut or reordered."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from keyraft_cluster import ADMIN_PRINCIPAL, LIMITED_PRINCIPAL, REGION

#: The node whose audit folder is read: the calls below all go to it.
NODE = 1
CONTEXT_KEY = "tenant"
CONTEXT_VALUE = "secret-value-xyz"
PLAINTEXT = b"audit-plaintext-must-not-be-logged-7f3a"
AUDIT_WAIT_SECONDS = 10
VERIFY_TIMEOUT_SECONDS = 60


def audit_dir(cluster, node: int) -> Path:
    return cluster.dir / f"node-{node}-audit"


def audit_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if re.fullmatch(r"audit-\d{6}\.jsonl", p.name))


def read_records(folder: Path) -> list[dict]:
    records = []
    for path in audit_files(folder):
        for line in path.read_bytes().splitlines():
            records.append(json.loads(line))
    return records


def verify(cluster, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(cluster.binary), "audit", "verify", str(path)], capture_output=True, text=True,
                          timeout=VERIFY_TIMEOUT_SECONDS)


def request_id(error_or_answer) -> str:
    metadata = error_or_answer.response if isinstance(error_or_answer, ClientError) else error_or_answer
    return metadata["ResponseMetadata"]["RequestId"]


@pytest.fixture(scope="module")
def audited_calls(cluster):
    """A few calls to node 1: successes, an error, a call by the limited user, one signed with a
    wrong secret. Returns {name: request id} once node 1's audit folder holds them all."""
    kms = cluster.client(NODE)
    calls = {}
    created = kms.create_key(Description="audited")
    key_id = created["KeyMetadata"]["KeyId"]
    calls["CreateKey"] = request_id(created)
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT, EncryptionContext={CONTEXT_KEY: CONTEXT_VALUE})
    calls["Encrypt"] = request_id(encrypted)
    decrypted = cluster.client(NODE, "limited").decrypt(CiphertextBlob=encrypted["CiphertextBlob"],
                                                        EncryptionContext={CONTEXT_KEY: CONTEXT_VALUE})
    assert decrypted["Plaintext"] == PLAINTEXT
    calls["Decrypt"] = request_id(decrypted)
    with pytest.raises(ClientError) as missing:
        kms.describe_key(KeyId="alias/audit-no-such-alias")
    calls["DescribeKey"] = request_id(missing.value)
    wrong_secret = "W" + cluster.admin["secretAccessKey"][1:] if not cluster.admin["secretAccessKey"].startswith("W") \
        else "X" + cluster.admin["secretAccessKey"][1:]
    bad = boto3.session.Session().client(
        "kms", endpoint_url=cluster.endpoint(NODE), verify=cluster.ca, region_name=REGION,
        aws_access_key_id=cluster.admin["accessKeyId"], aws_secret_access_key=wrong_secret,
        config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        bad.list_keys()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    calls["ListKeys"] = request_id(refused.value)
    calls["_wrong_secret"] = wrong_secret
    calls["_key_id"] = key_id

    wanted = {v for k, v in calls.items() if not k.startswith("_")}
    deadline = time.monotonic() + AUDIT_WAIT_SECONDS
    while True:
        found = {r.get("requestID") for r in read_records(audit_dir(cluster, NODE))}
        if wanted <= found:
            return calls
        assert time.monotonic() < deadline, f"node {NODE}'s audit lacks request ids {sorted(wanted - found)}"
        time.sleep(0.1)


def test_every_call_has_a_record_with_principal_operation_outcome_and_request_id(cluster, audited_calls):
    records = {r["requestID"]: r for r in read_records(audit_dir(cluster, NODE))}
    key_arn_suffix = audited_calls["_key_id"]
    expected = {
        "CreateKey": (ADMIN_PRINCIPAL, "success"),
        "Encrypt": (ADMIN_PRINCIPAL, "success"),
        "Decrypt": (LIMITED_PRINCIPAL, "success"),
        "DescribeKey": (ADMIN_PRINCIPAL, "NotFoundException"),
        "ListKeys": (None, "InvalidSignatureException"),
    }
    for operation, (principal, outcome) in expected.items():
        record = records[audited_calls[operation]]
        assert record["operation"] == f"TrentService.{operation}", record
        assert record["outcome"] == outcome, record
        assert record["requestID"] == audited_calls[operation]
        assert isinstance(record["principal"], str) and record["principal"], record
        if principal is not None:
            assert record["principal"] == principal, record
        assert isinstance(record["contextKeys"], list), record
        assert isinstance(record["sequence"], int) and re.fullmatch(r"[0-9a-f]{64}", record["previousHash"]), record
    # A request whose signature did not verify is not credited to the access key's owner.
    assert records[audited_calls["ListKeys"]]["principal"] != ADMIN_PRINCIPAL
    for operation in ("Encrypt", "Decrypt"):
        record = records[audited_calls[operation]]
        assert record["contextKeys"] == [CONTEXT_KEY], record
        assert record.get("keyARN", "").endswith(key_arn_suffix), record
    assert records[audited_calls["CreateKey"]]["contextKeys"] == []


def test_context_values_plaintext_and_secrets_are_never_written(cluster, audited_calls):
    forbidden = {
        "the encryption context's value": CONTEXT_VALUE.encode(),
        "the plaintext": PLAINTEXT,
        "the plaintext in base64": base64.b64encode(PLAINTEXT),
        "the wrong secret": audited_calls["_wrong_secret"].encode(),
        **{f"{c['principalArn']}'s secret": c["secretAccessKey"].encode() for c in cluster.credentials},
        "the root key": (cluster.dir / "root.key").read_bytes().strip(),
    }
    keys_seen = False
    for node in cluster.node_ids:
        for path in audit_files(audit_dir(cluster, node)):
            data = path.read_bytes()
            for what, needle in forbidden.items():
                assert needle not in data, f"{what} appears in {path}"
            keys_seen |= f'"{CONTEXT_KEY}"'.encode() in data
    assert keys_seen, f'the context key "{CONTEXT_KEY}" appears in no audit file'


def test_audit_verify_accepts_the_live_folder(cluster, audited_calls):
    before = len(read_records(audit_dir(cluster, NODE)))
    result = verify(cluster, audit_dir(cluster, NODE))
    after = len(read_records(audit_dir(cluster, NODE)))
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert result.stdout.startswith("ok"), result.stdout
    count = int(re.match(r"ok: (\d+) records", result.stdout).group(1))
    assert before <= count <= after, f"{result.stdout} ({before} records before, {after} after)"


def _tamper_cases():
    """(name, how to change the lines of the chosen file, which line is then first broken, reason)."""
    def edit_byte(lines, k):
        # One byte of the record's request id (still valid JSON): its own line still parses and
        # chains, so the break shows at the next record, whose previousHash no longer matches.
        record = lines[k - 1]
        at = record.index(b'"requestID":"') + len(b'"requestID":"')
        lines[k - 1] = record[:at] + (b"0" if record[at:at + 1] != b"0" else b"1") + record[at + 1:]
        return lines

    def break_json(lines, k):
        lines[k - 1] = b"[" + lines[k - 1][1:]  # one byte: the record no longer parses
        return lines

    def delete(lines, k):
        del lines[k - 1]
        return lines

    def swap(lines, k):
        lines[k - 1], lines[k] = lines[k], lines[k - 1]
        return lines

    return [
        pytest.param(edit_byte, 1, "hash mismatch", id="edit-one-byte"),
        pytest.param(break_json, 0, "unparseable", id="edit-one-byte-breaking-json"),
        pytest.param(delete, 0, "sequence gap", id="delete-a-line"),
        pytest.param(swap, 0, "sequence gap", id="swap-two-lines"),
    ]


@pytest.mark.parametrize("change, offset, reason", _tamper_cases())
def test_audit_verify_names_the_first_broken_record_of_a_tampered_copy(cluster, audited_calls, tmp_path, change,
                                                                       offset, reason):
    copy = tmp_path / f"node-{NODE}-audit"
    shutil.copytree(audit_dir(cluster, NODE), copy)
    # The copy may end in a record being written: keep whole lines only.
    target = audit_files(copy)[-1]
    data = target.read_bytes()
    target.write_bytes(data[:data.rfind(b"\n") + 1])
    intact = verify(cluster, copy)
    assert intact.returncode == 0 and intact.stdout.startswith("ok"), f"the untouched copy: {intact.stdout}{intact.stderr}"

    lines = target.read_bytes().splitlines()
    assert len(lines) >= 5, f"{target} has only {len(lines)} records"
    k = len(lines) // 2 + 1  # a middle record, 1-based, with records before and after it
    target.write_bytes(b"".join(line + b"\n" for line in change(lines, k)))

    result = verify(cluster, copy)
    assert result.returncode == 1, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    broken_line = k + offset
    assert result.stdout.startswith(f"broken: {target} line {broken_line}: {reason}"), \
        f"expected line {broken_line} of {target} ({reason}), got: {result.stdout}"
