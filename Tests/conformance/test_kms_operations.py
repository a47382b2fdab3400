"""The 26 KMS operations through boto3, against the leader and against a follower, plus raw
protocol checks with hand-signed requests.

Every test that takes `node` runs twice: on the leader, and on a follower (which forwards
writes to the leader and must show the caller its own write at once: read-your-writes).
Expected messages are the KMS core's (Sources/KMS, Sources/KMSWire).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from pathlib import Path

import pytest

from keyraft_cluster import (
    ACCOUNT,
    ADMIN_PRINCIPAL,
    JSON_CONTENT_TYPE,
    KEY_ARN_RE,
    KMS_TARGET_PREFIX,
    LIMITED_PRINCIPAL,
    REGION,
    UUID_RE,
    alias_arn,
    constraint,
    expect_error,
    key_arn,
    repo_root,
    validation_message,
)

ALL_BYTES = bytes(range(256))
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BLOB_HEADER_BYTES = 37
GCM_TAG_BYTES = 16


# MARK: - Helpers


def new_key(kms, **kwargs) -> dict:
    return kms.create_key(**kwargs)["KeyMetadata"]


def unique_alias(tag: str) -> str:
    return f"alias/conformance-{tag}-{uuid.uuid4().hex[:12]}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def assert_recent(moment: dt.datetime, seconds: float = 300) -> None:
    assert abs((moment - now()).total_seconds()) < seconds, f"{moment} is not within {seconds} s of now"


def assert_days_ahead(moment: dt.datetime, days: int) -> None:
    expected = now() + dt.timedelta(days=days)
    assert abs((moment - expected).total_seconds()) < 3600, f"{moment} is not {days} days from now"


def blob_key_id(blob: bytes) -> str:
    return str(uuid.UUID(bytes=bytes(blob[1:17])))


def blob_version(blob: bytes) -> int:
    return int.from_bytes(blob[17:21], "big")


def flip(blob: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= mask
    return bytes(changed)


#: How long a change may take to reach a node that did not take the write: reads on other
#: nodes are served under a read lease, fresh to within maxStalenessMs (well under this).
STALENESS_WAIT_SECONDS = 10


def eventually(check, seconds: float = STALENESS_WAIT_SECONDS):
    """Runs `check` until it passes (AssertionError means not yet), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except (AssertionError, pytest.fail.Exception):  # pytest.raises' "DID NOT RAISE" is the latter
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def other_node(cluster, node: int) -> int:
    return next(n for n in cluster.node_ids if n != node)


def policy_document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def root_allows_all() -> dict:
    return {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}


def check_metadata(md: dict, *, description: str = "", state: str = "Enabled") -> None:
    assert md["AWSAccountId"] == ACCOUNT
    assert UUID_RE.match(md["KeyId"]), md["KeyId"]
    assert md["Arn"] == key_arn(md["KeyId"])
    assert md["Enabled"] is (state == "Enabled")
    assert md["KeyState"] == state
    assert md["Description"] == description
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert_recent(md["CreationDate"], seconds=3600)


# MARK: - CreateKey, DescribeKey, ListKeys, UpdateKeyDescription


def test_create_key_describe_key(cluster, node, kms):
    md = new_key(kms, Description="conformance: create", Tags=[{"TagKey": "suite", "TagValue": "conformance"}])
    check_metadata(md, description="conformance: create")
    assert_recent(md["CreationDate"])
    assert "DeletionDate" not in md
    # Read-your-writes on the node that took the write, by key id and by key ARN.
    for reference in (md["KeyId"], md["Arn"], md["KeyId"].upper()):
        described = kms.describe_key(KeyId=reference)["KeyMetadata"]
        check_metadata(described, description="conformance: create")
        assert described["KeyId"] == md["KeyId"]
    # A key unknown to a node's state is caught up with before NotFound: visible everywhere at once.
    for other in cluster.node_ids:
        assert cluster.client(other).describe_key(KeyId=md["Arn"])["KeyMetadata"]["KeyId"] == md["KeyId"]


def test_create_key_errors(cluster, node, kms):
    expect_error("UnsupportedOperationException", kms.create_key, KeySpec="RSA_2048")
    expect_error("UnsupportedOperationException", kms.create_key, Origin="EXTERNAL")
    expect_error("ValidationException", kms.create_key, KeyUsage="SIGN_VERIFY")
    expect_error("ValidationException", kms.create_key, Description="x" * 8193,
                 message=validation_message(constraint(
                     "description", "Member must have length less than or equal to 8192")))
    expect_error("MalformedPolicyDocumentException", kms.create_key, Policy="{not json")
    # The lockout safety check: a policy that would not let the caller change it again.
    only_limited = policy_document(
        {"Effect": "Allow", "Principal": {"AWS": LIMITED_PRINCIPAL}, "Action": "kms:*", "Resource": "*"})
    expect_error("MalformedPolicyDocumentException", kms.create_key, Policy=only_limited,
                 message="The new key policy will not allow you to update the key policy in the future.")
    limited = cluster.client(node, "limited")
    expect_error("AccessDeniedException", limited.create_key, Description="not allowed",
                 startswith=f"User: {LIMITED_PRINCIPAL} is not authorized to perform: kms:CreateKey")


def test_describe_key_errors(cluster, node, kms):
    missing = str(uuid.uuid4())
    expect_error("NotFoundException", kms.describe_key, KeyId=missing, message=f"Key '{missing}' does not exist")
    expect_error("NotFoundException", kms.describe_key, KeyId=key_arn(missing), contains=missing)
    expect_error("NotFoundException", kms.describe_key, KeyId="alias/conformance-never-created",
                 message=f"Alias {alias_arn('alias/conformance-never-created')} is not found.")
    expect_error("NotFoundException", kms.describe_key, KeyId="not-a-key-id")
    existing = new_key(kms)["KeyId"]
    # Another region or account: that key does not exist here.
    expect_error("NotFoundException", kms.describe_key, KeyId=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{existing}")
    expect_error("NotFoundException", kms.describe_key, KeyId=f"arn:aws:kms:{REGION}:444455556666:key/{existing}")
    expect_error("InvalidArnException", kms.describe_key, KeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:bucket/{existing}")
    expect_error("InvalidArnException", kms.describe_key, KeyId="arn:aws:s3:::my-bucket")
    expect_error("ValidationException", kms.describe_key, KeyId="k" * 2049, message=validation_message(
        constraint("keyId", "Member must have length less than or equal to 2048")))
    raw = cluster.client(node, validate=False)
    expect_error("ValidationException", raw.describe_key, KeyId="", message=validation_message(
        constraint("keyId", "Member must have length greater than or equal to 1")))


def test_list_keys_pagination(cluster, node, kms):
    created = {new_key(kms)["KeyId"] for _ in range(3)}
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        page = kms.list_keys(Limit=3, **({"Marker": marker} if marker else {}))
        pages += 1
        assert len(page["Keys"]) <= 3
        for entry in page["Keys"]:
            assert entry["KeyArn"] == key_arn(entry["KeyId"])
            seen.append(entry["KeyId"])
        assert page["Truncated"] == ("NextMarker" in page), page
        if not page["Truncated"]:
            break
        assert len(page["Keys"]) == 3, "a truncated page is full"
        marker = page["NextMarker"]
        assert pages < 10_000
    assert len(seen) == len(set(seen)), "no key twice"
    assert created <= set(seen), "every new key is listed on the node that created it"
    assert pages >= 2
    # boto3's paginator drives Limit/Marker/Truncated the same way.
    paginated = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
                 for k in p["Keys"]]
    assert set(paginated) >= created and len(paginated) == len(set(paginated))
    one = kms.list_keys(Limit=1)
    assert len(one["Keys"]) == 1 and one["Truncated"] is True
    expect_error("ValidationException", kms.list_keys, Limit=1001, message=validation_message(
        constraint("limit", "Member must have value less than or equal to 1000")))
    expect_error("ValidationException", cluster.client(node, validate=False).list_keys, Limit=0,
                 message=validation_message(constraint("limit", "Member must have value greater than or equal to 1")))
    expect_error("InvalidMarkerException", kms.list_keys, Marker="not-a-marker")
    expect_error("AccessDeniedException", cluster.client(node, "limited").list_keys, contains="kms:ListKeys")


def test_update_key_description(cluster, node, kms):
    md = new_key(kms, Description="before")
    for i in range(3):
        kms.update_key_description(KeyId=md["KeyId"], Description=f"after {i}")
        assert kms.describe_key(KeyId=md["Arn"])["KeyMetadata"]["Description"] == f"after {i}"
    kms.update_key_description(KeyId=md["Arn"], Description="")
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == ""
    expect_error("ValidationException", kms.update_key_description, KeyId=md["KeyId"], Description="d" * 8193,
                 message=validation_message(constraint(
                     "description", "Member must have length less than or equal to 8192")))
    expect_error("NotFoundException", kms.update_key_description, KeyId=str(uuid.uuid4()), Description="x")


# MARK: - EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion


def test_disable_and_enable_key(cluster, node, kms):
    md = new_key(kms)
    arn = md["Arn"]
    blob = kms.encrypt(KeyId=arn, Plaintext=b"before disable")["CiphertextBlob"]
    other = new_key(kms)["Arn"]
    other_blob = kms.encrypt(KeyId=other, Plaintext=b"x")["CiphertextBlob"]

    kms.disable_key(KeyId=md["KeyId"])
    described = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert described["KeyState"] == "Disabled" and described["Enabled"] is False
    disabled = f"{arn} is disabled."
    expect_error("DisabledException", kms.encrypt, KeyId=arn, Plaintext=b"x", message=disabled)
    expect_error("DisabledException", kms.decrypt, CiphertextBlob=blob, message=disabled)
    expect_error("DisabledException", kms.generate_data_key, KeyId=arn, KeySpec="AES_256", message=disabled)
    expect_error("DisabledException", kms.generate_data_key_without_plaintext, KeyId=arn, NumberOfBytes=32)
    expect_error("DisabledException", kms.re_encrypt, CiphertextBlob=other_blob, DestinationKeyId=arn)
    expect_error("DisabledException", kms.rotate_key_on_demand, KeyId=arn)
    expect_error("DisabledException", kms.enable_key_rotation, KeyId=arn)
    # Reads and management still work on a disabled key.
    assert kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
    kms.update_key_description(KeyId=arn, Description="disabled but described")
    kms.disable_key(KeyId=arn)  # again: no change, no error
    # Visible on every node within the read lease's staleness bound.
    for n in cluster.node_ids:
        eventually(lambda n=n: expect_error("DisabledException", cluster.client(n).encrypt, KeyId=arn, Plaintext=b"x"))

    kms.enable_key(KeyId=arn)
    described = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert described["KeyState"] == "Enabled" and described["Enabled"] is True
    assert described["Description"] == "disabled but described"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before disable"
    kms.enable_key(KeyId=arn)  # again
    expect_error("NotFoundException", kms.disable_key, KeyId=str(uuid.uuid4()))
    expect_error("NotFoundException", kms.enable_key, KeyId=str(uuid.uuid4()))


def test_schedule_and_cancel_key_deletion(cluster, node, kms):
    md = new_key(kms)
    arn = md["Arn"]
    blob = kms.encrypt(KeyId=arn, Plaintext=b"doomed")["CiphertextBlob"]
    expect_error("ValidationException", kms.schedule_key_deletion, KeyId=arn, PendingWindowInDays=6,
                 message=validation_message(constraint(
                     "pendingWindowInDays", "Member must have value greater than or equal to 7")))
    expect_error("ValidationException", kms.schedule_key_deletion, KeyId=arn, PendingWindowInDays=31,
                 message=validation_message(constraint(
                     "pendingWindowInDays", "Member must have value less than or equal to 30")))
    expect_error("NotFoundException", kms.schedule_key_deletion, KeyId=str(uuid.uuid4()), PendingWindowInDays=7)

    scheduled = kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    assert scheduled["KeyId"] == arn
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    assert_days_ahead(scheduled["DeletionDate"], 7)
    described = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion" and described["Enabled"] is False
    assert described["PendingDeletionWindowInDays"] == 7
    assert_days_ahead(described["DeletionDate"], 7)

    pending = f"{arn} is pending deletion."
    expect_error("KMSInvalidStateException", kms.encrypt, KeyId=arn, Plaintext=b"x", message=pending)
    expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob, message=pending)
    expect_error("KMSInvalidStateException", kms.generate_data_key, KeyId=arn, NumberOfBytes=16)
    expect_error("KMSInvalidStateException", kms.enable_key, KeyId=arn)
    expect_error("KMSInvalidStateException", kms.disable_key, KeyId=arn)
    expect_error("KMSInvalidStateException", kms.update_key_description, KeyId=arn, Description="x")
    expect_error("KMSInvalidStateException", kms.schedule_key_deletion, KeyId=arn, PendingWindowInDays=7)
    expect_error("KMSInvalidStateException", kms.enable_key_rotation, KeyId=arn)
    expect_error("KMSInvalidStateException", kms.rotate_key_on_demand, KeyId=arn)
    expect_error("KMSInvalidStateException", kms.create_alias, AliasName=unique_alias("pending"), TargetKeyId=arn)
    for n in cluster.node_ids:
        eventually(lambda n=n: expect_error("KMSInvalidStateException", cluster.client(n).encrypt, KeyId=arn,
                                            Plaintext=b"x"))
    # Reads work in every state.
    assert kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
    assert kms.list_key_policies(KeyId=arn)["PolicyNames"] == ["default"]
    assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is False
    assert kms.list_key_rotations(KeyId=arn)["Rotations"] == []

    assert kms.cancel_key_deletion(KeyId=md["KeyId"])["KeyId"] == arn
    described = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert described["KeyState"] == "Disabled"
    assert "DeletionDate" not in described and "PendingDeletionWindowInDays" not in described
    expect_error("KMSInvalidStateException", kms.cancel_key_deletion, KeyId=arn, message=f"{arn} is not pending deletion.")
    expect_error("NotFoundException", kms.cancel_key_deletion, KeyId=str(uuid.uuid4()))
    kms.enable_key(KeyId=arn)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"doomed"

    # The default window is 30 days.
    default = kms.schedule_key_deletion(KeyId=new_key(kms)["KeyId"])
    assert default["PendingWindowInDays"] == 30
    assert_days_ahead(default["DeletionDate"], 30)


# MARK: - CreateAlias, UpdateAlias, DeleteAlias, ListAliases


def test_alias_lifecycle(cluster, node, kms):
    first, second = new_key(kms), new_key(kms)
    name = unique_alias("life")
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    # Read-your-writes: the alias resolves at once, in every KeyId form.
    for reference in (name, alias_arn(name)):
        assert kms.describe_key(KeyId=reference)["KeyMetadata"]["KeyId"] == first["KeyId"]
    encrypted = kms.encrypt(KeyId=name, Plaintext=b"via alias")
    assert encrypted["KeyId"] == first["Arn"]
    assert kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], KeyId=alias_arn(name))["Plaintext"] == b"via alias"
    listed = kms.list_aliases(KeyId=first["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    entry = listed[0]
    assert entry["AliasArn"] == alias_arn(name)
    assert entry["TargetKeyId"] == first["KeyId"]
    assert_recent(entry["CreationDate"])
    assert_recent(entry["LastUpdatedDate"])
    expect_error("AlreadyExistsException", kms.create_alias, AliasName=name, TargetKeyId=second["KeyId"],
                 message=f"An alias with the name {alias_arn(name)} already exists")

    kms.update_alias(AliasName=name, TargetKeyId=second["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == second["KeyId"]
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == second["Arn"]
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=second["Arn"])["Aliases"]] == [name]
    assert kms.list_aliases(KeyId=first["KeyId"])["Aliases"] == []
    kms.update_alias(AliasName=name, TargetKeyId=second["KeyId"])  # same target: no change
    expect_error("ValidationException", kms.update_alias, AliasName=name, TargetKeyId=name,
                 message="TargetKeyId must be a key id or key ARN, not an alias.")
    expect_error("NotFoundException", kms.update_alias, AliasName=name, TargetKeyId=str(uuid.uuid4()))

    kms.delete_alias(AliasName=name)
    expect_error("NotFoundException", kms.describe_key, KeyId=name, message=f"Alias {alias_arn(name)} is not found.")
    expect_error("NotFoundException", kms.delete_alias, AliasName=name, message=f"Alias {alias_arn(name)} is not found.")
    expect_error("NotFoundException", kms.update_alias, AliasName=name, TargetKeyId=first["KeyId"])
    # The name is free again.
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == first["KeyId"]


def test_alias_errors(cluster, node, kms):
    key = new_key(kms)["KeyId"]
    expect_error("InvalidAliasNameException", kms.create_alias, AliasName="alias/aws/conformance", TargetKeyId=key,
                 message="Alias names that begin with alias/aws/ are reserved.")
    for bad in ("conformance-no-prefix", "alias/", "alias/has space", "alias/bang!"):
        expect_error("InvalidAliasNameException", kms.create_alias, AliasName=bad, TargetKeyId=key)
    expect_error("ValidationException", kms.create_alias, AliasName="alias/" + "a" * 251, TargetKeyId=key,
                 message=validation_message(constraint(
                     "aliasName", "Member must have length less than or equal to 256")))
    name = unique_alias("err")
    expect_error("NotFoundException", kms.create_alias, AliasName=name, TargetKeyId=str(uuid.uuid4()))
    kms.create_alias(AliasName=name, TargetKeyId=key)
    for target in (name, alias_arn(name)):
        expect_error("ValidationException", kms.create_alias, AliasName=unique_alias("err"), TargetKeyId=target,
                     message="TargetKeyId must be a key id or key ARN, not an alias.")
    expect_error("InvalidAliasNameException", kms.delete_alias, AliasName="alias/aws/conformance")
    limited = cluster.client(node, "limited")
    expect_error("AccessDeniedException", limited.create_alias, AliasName=unique_alias("denied"), TargetKeyId=key,
                 contains=("kms:CreateAlias", LIMITED_PRINCIPAL))
    expect_error("AccessDeniedException", limited.delete_alias, AliasName=name, contains="kms:DeleteAlias")


def test_list_aliases_pagination(cluster, node, kms):
    key = new_key(kms)
    prefix = unique_alias("page")
    names = [f"{prefix}-{suffix}" for suffix in ("a", "b", "c")]
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    first = kms.list_aliases(KeyId=key["KeyId"], Limit=2)
    assert [a["AliasName"] for a in first["Aliases"]] == names[:2]
    assert first["Truncated"] is True and first["NextMarker"]
    second = kms.list_aliases(KeyId=key["KeyId"], Limit=2, Marker=first["NextMarker"])
    assert [a["AliasName"] for a in second["Aliases"]] == names[2:]
    assert second["Truncated"] is False and "NextMarker" not in second
    everything = [a["AliasName"] for p in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 50})
                  for a in p["Aliases"]]
    assert set(names) <= set(everything) and len(everything) == len(set(everything))
    for a in kms.list_aliases(Limit=1000)["Aliases"]:
        assert a["AliasArn"] == alias_arn(a["AliasName"])
    expect_error("InvalidMarkerException", kms.list_aliases, Marker="bogus")
    expect_error("NotFoundException", kms.list_aliases, KeyId=str(uuid.uuid4()))
    expect_error("ValidationException", cluster.client(node, validate=False).list_aliases, Limit=0,
                 message=validation_message(constraint("limit", "Member must have value greater than or equal to 1")))


# MARK: - Encrypt, Decrypt, ReEncrypt


def test_encrypt_decrypt(cluster, node, kms):
    key = new_key(kms)
    alias = unique_alias("crypt")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    context = {"tenant": "acme", "purpose": "conformance"}
    for reference in (key["KeyId"], key["Arn"], alias, alias_arn(alias)):
        out = kms.encrypt(KeyId=reference, Plaintext=ALL_BYTES, EncryptionContext=context)
        assert out["KeyId"] == key["Arn"]
        assert KEY_ARN_RE.match(out["KeyId"])
        assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        blob = out["CiphertextBlob"]
        assert len(blob) == BLOB_HEADER_BYTES + len(ALL_BYTES) + GCM_TAG_BYTES
        assert blob[0] == 1 and blob_key_id(blob) == key["KeyId"] and blob_version(blob) == 1
        plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        assert plain["Plaintext"] == ALL_BYTES
        assert plain["KeyId"] == key["Arn"]
        assert plain["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=reference)["Plaintext"] == ALL_BYTES
    # Bounds: 1 and 4096 bytes.
    for size in (1, 4096):
        blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"\x07" * size)["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"\x07" * size
    # Two encryptions of one plaintext differ (fresh nonce).
    a = kms.encrypt(KeyId=key["Arn"], Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key["Arn"], Plaintext=b"same")["CiphertextBlob"]
    assert a != b


def test_encrypt_errors(cluster, node, kms):
    key = new_key(kms)["Arn"]
    expect_error("ValidationException", kms.encrypt, KeyId=key, Plaintext=b"x" * 4097, message=validation_message(
        constraint("plaintext", "Member must have length less than or equal to 4096")))
    raw = cluster.client(node, validate=False)
    expect_error("ValidationException", raw.encrypt, KeyId=key, Plaintext=b"", message=validation_message(
        constraint("plaintext", "Member must have length greater than or equal to 1")))
    expect_error("NotFoundException", kms.encrypt, KeyId=str(uuid.uuid4()), Plaintext=b"x")
    expect_error("NotFoundException", kms.encrypt, KeyId="alias/conformance-never-created", Plaintext=b"x")
    expect_error("ValidationException", kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"": "v"},
                 message=validation_message(constraint(
                     "encryptionContext", "Member keys must have length greater than or equal to 1")))
    expect_error("ValidationException", kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"k": "v" * 8192},
                 message=validation_message(constraint(
                     "encryptionContext", "Member must have total length less than or equal to 8192")))
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=key, Plaintext=b"x",
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    expect_error("ValidationException", kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionAlgorithm="NOPE")


def test_decrypt_errors(cluster, node, kms):
    key = new_key(kms)
    other = new_key(kms)
    context = {"Tenant": "acme"}
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
    bad = "The ciphertext or the encryption context is not valid for this key."
    for wrong in ({}, {"Tenant": "other"}, {"tenant": "acme"}, {"Tenant": "acme", "extra": "x"}):
        expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=wrong, message=bad)
    tag_byte = len(blob) - 1
    first_ciphertext_byte = BLOB_HEADER_BYTES
    nonce_byte = 21
    length_byte = 36
    for index in (tag_byte, first_ciphertext_byte, nonce_byte, length_byte, 0):
        expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=flip(blob, index),
                     EncryptionContext=context)
    # A version this key does not have (3), after a catch-up round.
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=flip(blob, 20, 0x02), EncryptionContext=context,
                 message="The ciphertext refers to a key version that does not exist.")
    # A key id that names no key: the core answers NotFoundException (after a catch-up round).
    expect_error("NotFoundException", kms.decrypt, CiphertextBlob=flip(blob, 1), EncryptionContext=context)
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob[:-1], EncryptionContext=context)
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob + b"\x00", EncryptionContext=context)
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"\x01\x02\x03")
    expect_error("ValidationException", kms.decrypt, CiphertextBlob=b"\x01" * 6145, message=validation_message(
        constraint("ciphertextBlob", "Member must have length less than or equal to 6144")))
    expect_error("ValidationException", cluster.client(node, validate=False).decrypt, CiphertextBlob=b"",
                 message=validation_message(constraint(
                     "ciphertextBlob", "Member must have length greater than or equal to 1")))
    incorrect = "The key ID in the request does not identify a key that can decrypt the ciphertext."
    expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context,
                 KeyId=other["Arn"], message=incorrect)
    other_alias = unique_alias("incorrect")
    kms.create_alias(AliasName=other_alias, TargetKeyId=other["KeyId"])
    expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context, KeyId=other_alias)
    expect_error("NotFoundException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context,
                 KeyId="alias/conformance-never-created")
    expect_error("InvalidKeyUsageException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context,
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    expect_error("ValidationException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context,
                 EncryptionAlgorithm="NOPE")
    # Still fine after all that.
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=key["KeyId"])["Plaintext"] == b"secret"


def test_ciphertext_decrypts_on_every_node(cluster):
    key = new_key(cluster.client(cluster.leader()))["Arn"]
    for source in cluster.node_ids:
        context = {"made-on": str(source)}
        plaintext = f"made on node {source}".encode()
        blob = cluster.client(source).encrypt(KeyId=key, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
        for target in cluster.node_ids:
            out = cluster.client(target).decrypt(CiphertextBlob=blob, EncryptionContext=context)
            assert out["Plaintext"] == plaintext, f"made on {source}, decrypted on {target}"
            assert out["KeyId"] == key


def test_re_encrypt(cluster, node, kms):
    source, destination = new_key(kms), new_key(kms)
    source_context, destination_context = {"step": "one"}, {"step": "two"}
    blob = kms.encrypt(KeyId=source["Arn"], Plaintext=b"moving", EncryptionContext=source_context)["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=source_context,
                         DestinationKeyId=destination["KeyId"], DestinationEncryptionContext=destination_context)
    assert out["KeyId"] == destination["Arn"]
    assert out["SourceKeyId"] == source["Arn"]
    assert out["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert out["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    moved = out["CiphertextBlob"]
    assert blob_key_id(moved) == destination["KeyId"]
    for n in cluster.node_ids:
        decrypted = cluster.client(n).decrypt(CiphertextBlob=moved, EncryptionContext=destination_context)
        assert decrypted["Plaintext"] == b"moving" and decrypted["KeyId"] == destination["Arn"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=moved, EncryptionContext=source_context)
    # Same key, new context; SourceKeyId given in any form.
    same = kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=source["KeyId"], SourceEncryptionContext=source_context,
                          DestinationKeyId=source["Arn"])
    assert same["KeyId"] == same["SourceKeyId"] == source["Arn"]
    assert kms.decrypt(CiphertextBlob=same["CiphertextBlob"])["Plaintext"] == b"moving"

    expect_error("IncorrectKeyException", kms.re_encrypt, CiphertextBlob=blob, SourceKeyId=destination["Arn"],
                 SourceEncryptionContext=source_context, DestinationKeyId=destination["Arn"])
    expect_error("InvalidCiphertextException", kms.re_encrypt, CiphertextBlob=blob,
                 SourceEncryptionContext={"step": "wrong"}, DestinationKeyId=destination["Arn"])
    expect_error("InvalidCiphertextException", kms.re_encrypt, CiphertextBlob=flip(blob, len(blob) - 1),
                 SourceEncryptionContext=source_context, DestinationKeyId=destination["Arn"])
    expect_error("NotFoundException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext=source_context,
                 DestinationKeyId=str(uuid.uuid4()))
    expect_error("ValidationException", kms.re_encrypt, DestinationKeyId=destination["Arn"],
                 message=validation_message(constraint("ciphertextBlob", "Member must not be null", null=True)))
    kms.disable_key(KeyId=destination["KeyId"])
    expect_error("DisabledException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext=source_context,
                 DestinationKeyId=destination["Arn"])
    kms.disable_key(KeyId=source["KeyId"])
    expect_error("DisabledException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext=source_context,
                 DestinationKeyId=source["Arn"])


# MARK: - GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom


def test_generate_data_key(cluster, node, kms):
    key = new_key(kms)
    context = {"file": "conformance.bin"}
    for spec, size in (("AES_256", 32), ("AES_128", 16)):
        out = kms.generate_data_key(KeyId=key["KeyId"], KeySpec=spec, EncryptionContext=context)
        assert out["KeyId"] == key["Arn"]
        assert len(out["Plaintext"]) == size
        assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=context)["Plaintext"] == out["Plaintext"]
    for size in (1, 1024):
        out = kms.generate_data_key(KeyId=key["Arn"], NumberOfBytes=size)
        assert len(out["Plaintext"]) == size
        other = cluster.client(other_node(cluster, node))
        assert other.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]
    either = "Please specify either number of bytes or key spec."
    expect_error("ValidationException", kms.generate_data_key, KeyId=key["Arn"], message=either)
    expect_error("ValidationException", kms.generate_data_key, KeyId=key["Arn"], KeySpec="AES_256", NumberOfBytes=32,
                 message=either)
    expect_error("ValidationException", kms.generate_data_key, KeyId=key["Arn"], NumberOfBytes=1025,
                 message=validation_message(constraint(
                     "numberOfBytes", "Member must have value less than or equal to 1024")))
    expect_error("ValidationException", cluster.client(node, validate=False).generate_data_key, KeyId=key["Arn"],
                 NumberOfBytes=0, message=validation_message(constraint(
                     "numberOfBytes", "Member must have value greater than or equal to 1")))
    expect_error("ValidationException", kms.generate_data_key, KeyId=key["Arn"], KeySpec="AES_512",
                 message=validation_message(constraint(
                     "keySpec", "Member must satisfy enum value set: [AES_256, AES_128]")))
    expect_error("NotFoundException", kms.generate_data_key, KeyId=str(uuid.uuid4()), KeySpec="AES_256")


def test_generate_data_key_without_plaintext(cluster, node, kms):
    key = new_key(kms)
    context = {"k": "v"}
    out = kms.generate_data_key_without_plaintext(KeyId=key["Arn"], KeySpec="AES_256", EncryptionContext=context)
    assert "Plaintext" not in out
    assert out["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=context)["Plaintext"]) == 32
    out = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=64)
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 64
    expect_error("ValidationException", kms.generate_data_key_without_plaintext, KeyId=key["Arn"],
                 message="Please specify either number of bytes or key spec.")
    expect_error("NotFoundException", kms.generate_data_key_without_plaintext, KeyId=str(uuid.uuid4()), NumberOfBytes=8)


def test_generate_random(cluster, node, kms):
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(a) == len(b) == 32 and a != b
    assert len(kms.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    expect_error("ValidationException", kms.generate_random, NumberOfBytes=1025, message=validation_message(
        constraint("numberOfBytes", "Member must have value less than or equal to 1024")))
    expect_error("ValidationException", kms.generate_random, message=validation_message(
        constraint("numberOfBytes", "Member must have value greater than or equal to 1")))
    expect_error("AccessDeniedException", cluster.client(node, "limited").generate_random, NumberOfBytes=8,
                 contains="kms:GenerateRandom")


# MARK: - Rotation


def test_key_rotation_settings(cluster, node, kms):
    key = new_key(kms)["Arn"]
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status
    kms.enable_key_rotation(KeyId=key)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    assert_days_ahead(status["NextRotationDate"], 365)
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["RotationPeriodInDays"] == 90
    assert_days_ahead(status["NextRotationDate"], 90)
    expect_error("ValidationException", kms.enable_key_rotation, KeyId=key, RotationPeriodInDays=2561,
                 message=validation_message(constraint(
                     "rotationPeriodInDays", "Member must have value less than or equal to 2560")))
    expect_error("ValidationException", cluster.client(node, validate=False).enable_key_rotation, KeyId=key,
                 RotationPeriodInDays=89, message=validation_message(constraint(
                     "rotationPeriodInDays", "Member must have value greater than or equal to 90")))
    kms.disable_key_rotation(KeyId=key)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.get_key_rotation_status, kms.rotate_key_on_demand):
        expect_error("NotFoundException", call, KeyId=str(uuid.uuid4()))


def test_rotate_key_on_demand(cluster, node, kms):
    key = new_key(kms)
    arn = key["Arn"]
    before = kms.encrypt(KeyId=arn, Plaintext=b"version one", EncryptionContext={"v": "1"})["CiphertextBlob"]
    assert blob_version(before) == 1
    assert kms.list_key_rotations(KeyId=arn)["Rotations"] == []

    assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == arn
    status = kms.get_key_rotation_status(KeyId=arn)
    assert_recent(status["OnDemandRotationStartDate"])
    rotations = kms.list_key_rotations(KeyId=arn)
    assert rotations["Truncated"] is False
    assert len(rotations["Rotations"]) == 1
    entry = rotations["Rotations"][0]
    assert entry["KeyId"] == arn and entry["RotationType"] == "ON_DEMAND"
    assert_recent(entry["RotationDate"])

    after = kms.encrypt(KeyId=arn, Plaintext=b"version two")["CiphertextBlob"]
    assert blob_version(after) == 2, "Encrypt uses the new version at once on the node that rotated"
    for n in cluster.node_ids:
        client = cluster.client(n)
        assert client.decrypt(CiphertextBlob=before, EncryptionContext={"v": "1"})["Plaintext"] == b"version one"
        assert client.decrypt(CiphertextBlob=after)["Plaintext"] == b"version two"
    # Re-encrypting an old ciphertext moves it to the current version.
    moved = kms.re_encrypt(CiphertextBlob=before, SourceEncryptionContext={"v": "1"}, DestinationKeyId=arn)
    assert blob_version(moved["CiphertextBlob"]) == 2

    kms.rotate_key_on_demand(KeyId=arn)
    kms.rotate_key_on_demand(KeyId=arn)
    assert blob_version(kms.encrypt(KeyId=arn, Plaintext=b"v4")["CiphertextBlob"]) == 4
    page = kms.list_key_rotations(KeyId=arn, Limit=2)
    assert len(page["Rotations"]) == 2 and page["Truncated"] is True and page["NextMarker"]
    rest = kms.list_key_rotations(KeyId=arn, Limit=2, Marker=page["NextMarker"])
    assert len(rest["Rotations"]) == 1 and rest["Truncated"] is False
    dates = [r["RotationDate"] for r in page["Rotations"] + rest["Rotations"]]
    assert dates == sorted(dates), "oldest first"
    assert all(r["RotationType"] == "ON_DEMAND" for r in page["Rotations"] + rest["Rotations"])
    for marker in ("1", "zz"):
        expect_error("InvalidMarkerException", kms.list_key_rotations, KeyId=arn, Marker=marker)
    expect_error("NotFoundException", kms.list_key_rotations, KeyId=str(uuid.uuid4()))
    assert kms.decrypt(CiphertextBlob=before, EncryptionContext={"v": "1"})["Plaintext"] == b"version one"


# MARK: - Key policies


def test_get_and_list_key_policies(cluster, node, kms):
    key = new_key(kms)["Arn"]
    out = kms.get_key_policy(KeyId=key, PolicyName="default")
    document = json.loads(out["Policy"])
    statements = document["Statement"]
    assert document["Version"] == "2012-10-17"
    assert any(s["Effect"] == "Allow" and s["Principal"] == {"AWS": ROOT} and s["Action"] in ("kms:*", ["kms:*"])
               for s in statements), document
    assert kms.get_key_policy(KeyId=key)["Policy"] == out["Policy"]
    expect_error("NotFoundException", kms.get_key_policy, KeyId=key, PolicyName="other",
                 message="No such policy exists: other")
    expect_error("NotFoundException", kms.get_key_policy, KeyId=str(uuid.uuid4()), PolicyName="default")
    policies = kms.list_key_policies(KeyId=key)
    assert policies["PolicyNames"] == ["default"] and policies["Truncated"] is False
    expect_error("NotFoundException", kms.list_key_policies, KeyId=str(uuid.uuid4()))


def test_put_key_policy(cluster, node, kms):
    key = new_key(kms)["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"policy")["CiphertextBlob"]
    deny_encrypt = policy_document(root_allows_all(), {
        "Sid": "no-encrypt-for-dev", "Effect": "Deny", "Principal": {"AWS": ADMIN_PRINCIPAL},
        "Action": "kms:Encrypt", "Resource": "*"})
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=deny_encrypt)
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"] == deny_encrypt
    expect_error("AccessDeniedException", kms.encrypt, KeyId=key, Plaintext=b"x",
                 startswith=f"User: {ADMIN_PRINCIPAL} is not authorized to perform: kms:Encrypt on resource: {key}",
                 contains="with an explicit deny in a resource-based policy")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"policy"
    assert len(kms.generate_data_key(KeyId=key, NumberOfBytes=8)["Plaintext"]) == 8
    kms.put_key_policy(KeyId=key, Policy=policy_document(root_allows_all()))
    assert kms.encrypt(KeyId=key, Plaintext=b"x")["KeyId"] == key

    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key, PolicyName="default",
                 Policy="{not json")
    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key, PolicyName="default",
                 Policy=policy_document({"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}))
    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key, PolicyName="default",
                 Policy=policy_document(root_allows_all(), {
                     "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key, PolicyName="default",
                 Policy=policy_document(root_allows_all(), {
                     "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}))
    expect_error("ValidationException", kms.put_key_policy, KeyId=key, PolicyName="other",
                 Policy=policy_document(root_allows_all()), message=validation_message(constraint(
                     "policyName", "Member must satisfy regular expression pattern: default")))
    expect_error("NotFoundException", kms.put_key_policy, KeyId=str(uuid.uuid4()), PolicyName="default",
                 Policy=policy_document(root_allows_all()))
    expect_error("AccessDeniedException", cluster.client(node, "limited").put_key_policy, KeyId=key,
                 PolicyName="default", Policy=policy_document(root_allows_all()), contains="kms:PutKeyPolicy")


def test_key_policy_lockout_and_named_principals(cluster, node, kms):
    key = new_key(kms)["Arn"]
    only_limited = policy_document(
        {"Effect": "Allow", "Principal": {"AWS": LIMITED_PRINCIPAL}, "Action": "kms:*", "Resource": "*"})
    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key, PolicyName="default",
                 Policy=only_limited,
                 message="The new key policy will not allow you to update the key policy in the future.")
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=only_limited, BypassPolicyLockoutSafetyCheck=True)
    expect_error("AccessDeniedException", kms.encrypt, KeyId=key, Plaintext=b"x",
                 contains="because no resource-based policy allows the kms:Encrypt action")
    expect_error("AccessDeniedException", kms.describe_key, KeyId=key)
    # A principal named by ARN needs no identity permission: the limited user may now do anything here.
    limited = cluster.client(node, "limited")
    blob = limited.encrypt(KeyId=key, Plaintext=b"named")["CiphertextBlob"]
    limited.update_key_description(KeyId=key, Description="changed by the named principal")
    # Handing the key back passes the lockout check only if the limited user keeps PutKeyPolicy.
    expect_error("MalformedPolicyDocumentException", limited.put_key_policy, KeyId=key, PolicyName="default",
                 Policy=policy_document(root_allows_all()))
    limited.put_key_policy(KeyId=key, PolicyName="default", Policy=policy_document(root_allows_all(), {
        "Sid": "limited", "Effect": "Allow", "Principal": {"AWS": LIMITED_PRINCIPAL}, "Action": "kms:*",
        "Resource": "*"}))
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"named"
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Description"] == "changed by the named principal"

    # CreateKey with a policy: the same safety check, and the bypass.
    expect_error("MalformedPolicyDocumentException", kms.create_key, Policy=only_limited)
    locked = new_key(kms, Policy=only_limited, BypassPolicyLockoutSafetyCheck=True)["Arn"]
    expect_error("AccessDeniedException", kms.describe_key, KeyId=locked)
    assert limited.describe_key(KeyId=locked)["KeyMetadata"]["Arn"] == locked


def test_key_policy_encryption_context_condition(cluster, node, kms):
    key = new_key(kms)["Arn"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy_document(root_allows_all(), {
        "Sid": "tenant-a-only", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "a"}}}))
    assert kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"tenant": "a"})["KeyId"] == key
    expect_error("AccessDeniedException", kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"tenant": "b"},
                 contains="explicit deny")
    expect_error("AccessDeniedException", kms.encrypt, KeyId=key, Plaintext=b"x")


# MARK: - Identity permissions (the limited user) and read-your-writes


def test_limited_user(cluster, node, kms):
    key = new_key(kms)
    arn = key["Arn"]
    limited = cluster.client(node, "limited")
    assert limited.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == key["KeyId"]
    blob = limited.encrypt(KeyId=arn, Plaintext=b"limited", EncryptionContext={"u": "limited"})["CiphertextBlob"]
    assert limited.decrypt(CiphertextBlob=blob, EncryptionContext={"u": "limited"})["Plaintext"] == b"limited"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"u": "limited"})["Plaintext"] == b"limited"
    data_key = limited.generate_data_key(KeyId=arn, KeySpec="AES_256")
    assert limited.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]

    def denied(call, action, **kwargs):
        expect_error("AccessDeniedException", call,
                     startswith=f"User: {LIMITED_PRINCIPAL} is not authorized to perform: {action}", **kwargs)

    denied(limited.create_key, "kms:CreateKey")
    denied(limited.disable_key, "kms:DisableKey", KeyId=arn)
    denied(limited.schedule_key_deletion, "kms:ScheduleKeyDeletion", KeyId=arn, PendingWindowInDays=7)
    denied(limited.update_key_description, "kms:UpdateKeyDescription", KeyId=arn, Description="no")
    denied(limited.rotate_key_on_demand, "kms:RotateKeyOnDemand", KeyId=arn)
    denied(limited.enable_key_rotation, "kms:EnableKeyRotation", KeyId=arn)
    denied(limited.generate_data_key_without_plaintext, "kms:GenerateDataKeyWithoutPlaintext", KeyId=arn, NumberOfBytes=8)
    denied(limited.re_encrypt, "kms:ReEncryptFrom", CiphertextBlob=blob, SourceEncryptionContext={"u": "limited"},
           DestinationKeyId=arn)
    denied(limited.get_key_policy, "kms:GetKeyPolicy", KeyId=arn, PolicyName="default")
    denied(limited.list_key_policies, "kms:ListKeyPolicies", KeyId=arn)
    denied(limited.get_key_rotation_status, "kms:GetKeyRotationStatus", KeyId=arn)
    denied(limited.list_key_rotations, "kms:ListKeyRotations", KeyId=arn)
    denied(limited.list_aliases, "kms:ListAliases")
    # Nothing the limited user tried took effect.
    described = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert described["KeyState"] == "Enabled" and described["Description"] == ""
    assert kms.list_key_rotations(KeyId=arn)["Rotations"] == []


def test_read_your_writes(cluster, node, kms):
    """Each write is visible to the next call on the same node, including removals a stale
    node would still show."""
    key = new_key(kms)
    arn = key["Arn"]
    for i in range(5):
        kms.update_key_description(KeyId=arn, Description=f"round {i}")
        assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == f"round {i}"
        name = unique_alias(f"ryw{i}")
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
        assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == arn
        kms.delete_alias(AliasName=name)
        expect_error("NotFoundException", kms.encrypt, KeyId=name, Plaintext=b"x")
        kms.disable_key(KeyId=arn)
        expect_error("DisabledException", kms.encrypt, KeyId=arn, Plaintext=b"x")
        kms.enable_key(KeyId=arn)
        assert kms.encrypt(KeyId=arn, Plaintext=b"x")["KeyId"] == arn


# MARK: - Raw protocol: targets, bodies, signatures


@pytest.fixture
def raw(cluster, node):
    """Builds, signs and sends raw requests to `node`."""

    class Raw:
        def request(self, operation: str | None, body=b"{}"):
            target = None if operation is None else (operation if "." in operation else KMS_TARGET_PREFIX + operation)
            return cluster.request(node, target, body)

        def signed(self, operation: str | None, body=b"{}", user: str = "admin", **kwargs):
            return cluster.sign(self.request(operation, body), user, **kwargs)

        def send(self, request):
            return cluster.send(request)

    return Raw()


def assert_error_response(response, name: str, status: int = 400) -> dict:
    assert response.status == status, f"expected {status} {name}: {response}"
    assert response.headers.get("content-type", "").startswith(JSON_CONTENT_TYPE), response.headers
    document = response.json()
    assert document.get("__type") == name, document
    assert isinstance(document.get("message"), str) and document["message"], document
    return document


def test_raw_signed_request_succeeds(cluster, raw):
    for body in (b"{}", b"", b"  \n"):
        response = raw.send(raw.signed("ListKeys", body))
        assert response.status == 200, response
        assert response.headers.get("content-type", "").startswith(JSON_CONTENT_TYPE)
        document = response.json()
        assert isinstance(document["Keys"], list) and isinstance(document["Truncated"], bool)
    plaintext = base64.b64encode(b"raw").decode()
    key = cluster.client(cluster.leader()).create_key()["KeyMetadata"]["Arn"]
    encrypted = raw.send(raw.signed("Encrypt", {"KeyId": key, "Plaintext": plaintext}))
    assert encrypted.status == 200, encrypted
    assert encrypted.json()["KeyId"] == key
    decrypted = raw.send(raw.signed("Decrypt", {"CiphertextBlob": encrypted.json()["CiphertextBlob"]}))
    assert decrypted.status == 200 and decrypted.json()["Plaintext"] == plaintext, decrypted


def test_raw_unknown_operation(raw):
    assert_error_response(raw.send(raw.signed("TrentService.Frobnicate")), "UnknownOperationException")
    assert_error_response(raw.send(raw.signed("OtherService.ListKeys")), "UnknownOperationException")
    assert_error_response(raw.send(raw.signed("TrentService.listkeys")), "UnknownOperationException")
    assert_error_response(raw.send(raw.signed(None)), "UnknownOperationException")


def test_raw_malformed_bodies(raw):
    assert_error_response(raw.send(raw.signed("ListKeys", b"{not json")), "SerializationException")
    assert_error_response(raw.send(raw.signed("ListKeys", b"[]")), "SerializationException")
    assert_error_response(raw.send(raw.signed("DescribeKey", {"KeyId": 5})), "SerializationException")
    assert_error_response(raw.send(raw.signed("ListKeys", {"Limit": "ten"})), "SerializationException")
    assert_error_response(raw.send(raw.signed("Encrypt", {"KeyId": "alias/x", "Plaintext": "@@not base64@@"})),
                          "SerializationException")
    document = assert_error_response(raw.send(raw.signed("DescribeKey", b"{}")), "ValidationException")
    assert document["message"] == validation_message(constraint("keyId", "Member must not be null", null=True))


def test_raw_oversized_body_is_refused(raw):
    body = json.dumps({"KeyId": "alias/conformance-big", "Plaintext": "A" * (70 * 1024)}).encode()
    assert len(body) > 64 * 1024
    response = raw.send(raw.signed("Encrypt", body))
    assert 400 <= response.status < 500, f"a body over 64 KiB must get a 4xx: {response}"


def test_raw_signature_errors(cluster, raw):
    mismatch = "The request signature we calculated does not match the signature you provided."

    request = raw.signed("ListKeys")
    authorization = request.header("Authorization")
    last = authorization[-1]
    request.set_header("Authorization", authorization[:-1] + ("0" if last != "0" else "1"))
    assert assert_error_response(raw.send(request), "InvalidSignatureException")["message"].startswith(mismatch)

    request = raw.signed("ListKeys")
    request.sign(cluster.admin["accessKeyId"], cluster.admin["secretAccessKey"] + "x")
    assert assert_error_response(raw.send(request), "InvalidSignatureException")["message"].startswith(mismatch)

    request = raw.signed("ListKeys", b'{"Limit": 5}')
    request.body = b'{"Limit": 6}'
    assert_error_response(raw.send(request), "InvalidSignatureException")

    request = raw.signed("ListKeys")
    request.set_header("X-Amz-Target", KMS_TARGET_PREFIX + "GenerateRandom")
    assert_error_response(raw.send(request), "InvalidSignatureException")

    request = raw.request("ListKeys")
    request.set_header("X-Amz-Content-Sha256", "0" * 64)
    request.sign(cluster.admin["accessKeyId"], cluster.admin["secretAccessKey"])
    assert assert_error_response(raw.send(request), "InvalidSignatureException")["message"] == \
        "The provided 'x-amz-content-sha256' header does not match what was computed."

    for region, service in (("eu-west-1", "kms"), (REGION, "s3")):
        request = raw.signed("ListKeys", region=region, service=service)
        assert_error_response(raw.send(request), "InvalidSignatureException")


def test_raw_unknown_access_key(raw):
    request = raw.request("ListKeys")
    request.sign("AKIAKEYRAFTUNKNOWN00", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    document = assert_error_response(raw.send(request), "UnrecognizedClientException")
    assert document["message"] == "The security token included in the request is invalid."


def test_raw_unsigned_and_incomplete(cluster, raw):
    document = assert_error_response(raw.send(raw.request("ListKeys")), "MissingAuthenticationToken")
    assert document["message"] == "Missing Authentication Token"

    request = raw.signed("ListKeys", signed_headers=["content-type", "x-amz-date", "x-amz-target"])
    document = assert_error_response(raw.send(request), "IncompleteSignature")
    assert document["message"] == "'host' must be a 'SignedHeader' in the AWS Authorization."

    request = raw.signed("ListKeys")
    request.set_header("X-Amz-Date", None)
    assert_error_response(raw.send(request), "IncompleteSignature")

    request = raw.signed("ListKeys")
    request.set_header("X-Amz-Date", "yesterday")
    assert_error_response(raw.send(request), "IncompleteSignature")

    request = raw.request("ListKeys")
    request.set_header("Authorization", "AWS4-HMAC-SHA256 garbage")
    assert_error_response(raw.send(request), "IncompleteSignature")


def test_raw_clock_skew(cluster, raw):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    document = assert_error_response(raw.send(raw.signed("ListKeys", when=past)), "InvalidSignatureException")
    assert document["message"].startswith("Signature expired"), document
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)
    document = assert_error_response(raw.send(raw.signed("ListKeys", when=future)), "InvalidSignatureException")
    assert document["message"].startswith("Signature not yet current"), document
    # Within the 15-minute window: accepted.
    near = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    assert raw.send(raw.signed("ListKeys", when=near)).status == 200


# MARK: - Coverage of the served operations (offline)


def test_every_served_operation_is_exercised():
    """Every operation in Sources/KMSWire/KMSOperation.swift is called by this file through boto3."""
    swift = (repo_root() / "Sources" / "KMSWire" / "KMSOperation.swift").read_text()
    operations = re.findall(r'case \w+ = "(\w+)"', swift)
    assert len(operations) == 26, operations
    source = Path(__file__).read_text()
    missing = []
    for operation in operations:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        if f".{method}(" not in source and f".{method}," not in source:
            missing.append(f"{operation} ({method})")
    assert not missing, f"operations served but not exercised here: {missing}"
