"""The AWS Encryption SDK (PyPI `aws-encryption-sdk`) against Keyraft: the master key provider
configured only through the environment, and the keyring API of the material providers
library when it is installed."""

from __future__ import annotations

import os

import pytest

aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError  # noqa: E402
from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider  # noqa: E402
import botocore.session  # noqa: E402

from keyraft_cluster import REGION  # noqa: E402

MESSAGE_BYTES = 10_000  # several 4096-byte frames
CONTEXT = {"purpose": "conformance", "sdk": "aws-encryption-sdk"}


def use_endpoint(monkeypatch, cluster, endpoint: str) -> None:
    """Points the process environment (what botocore reads) at one node, and nothing else."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", endpoint)
    monkeypatch.setenv("AWS_CA_BUNDLE", cluster.ca)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", cluster.admin["accessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", cluster.admin["secretAccessKey"])
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/keyraft-conformance/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/keyraft-conformance/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def provider(monkeypatch, cluster, endpoint: str, key_arn: str) -> StrictAwsKmsMasterKeyProvider:
    use_endpoint(monkeypatch, cluster, endpoint)
    session = botocore.session.Session()
    assert session.create_client("kms", region_name=REGION).meta.endpoint_url.rstrip("/") == endpoint.rstrip("/")
    return StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=session)


@pytest.fixture
def sdk():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


@pytest.fixture
def key_arn(cluster):
    return cluster.client(cluster.leader()).create_key(Description="conformance: encryption sdk")["KeyMetadata"]["Arn"]


def test_master_key_provider_round_trip(cluster, monkeypatch, sdk, key_arn):
    plaintext = os.urandom(MESSAGE_BYTES)
    ciphertext, header = sdk.encrypt(source=plaintext,
                                     key_provider=provider(monkeypatch, cluster, cluster.endpoints[0], key_arn),
                                     encryption_context=CONTEXT)
    assert ciphertext != plaintext
    assert all(header.encryption_context.get(k) == v for k, v in CONTEXT.items())
    assert [k.key_provider.key_info.decode() for k in header.encrypted_data_keys] == [key_arn]
    # Decrypted by a fresh provider on every node.
    for endpoint in cluster.endpoints:
        decrypted, decrypt_header = sdk.decrypt(source=ciphertext,
                                                key_provider=provider(monkeypatch, cluster, endpoint, key_arn))
        assert decrypted == plaintext, endpoint
        assert all(decrypt_header.encryption_context.get(k) == v for k, v in CONTEXT.items())


def test_master_key_provider_refuses_other_keys(cluster, monkeypatch, sdk, key_arn):
    ciphertext, _ = sdk.encrypt(source=b"only for one key",
                                key_provider=provider(monkeypatch, cluster, cluster.endpoints[1], key_arn))
    other = cluster.client(cluster.leader()).create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(AWSEncryptionSDKClientError):
        sdk.decrypt(source=ciphertext, key_provider=provider(monkeypatch, cluster, cluster.endpoints[1], other))


def test_keyring_round_trip_and_interop(cluster, monkeypatch, sdk, key_arn):
    mpl = pytest.importorskip("aws_cryptographic_material_providers.mpl")
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput

    providers = mpl.AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())

    def keyring(node: int):
        return providers.create_aws_kms_keyring(
            input=CreateAwsKmsKeyringInput(kms_key_id=key_arn, kms_client=cluster.client(node)))

    plaintext = os.urandom(MESSAGE_BYTES)
    ciphertext, header = sdk.encrypt(source=plaintext, keyring=keyring(cluster.leader()), encryption_context=CONTEXT)
    assert all(header.encryption_context.get(k) == v for k, v in CONTEXT.items())
    for node in cluster.node_ids:
        decrypted, _ = sdk.decrypt(source=ciphertext, keyring=keyring(node), encryption_context=CONTEXT)
        assert decrypted == plaintext, f"node {node}"
    # A message from the master key provider opens with the keyring, and the other way round.
    legacy, _ = sdk.encrypt(source=b"from the master key provider",
                            key_provider=provider(monkeypatch, cluster, cluster.endpoints[2], key_arn))
    assert sdk.decrypt(source=legacy, keyring=keyring(cluster.followers()[0]))[0] == b"from the master key provider"
    assert sdk.decrypt(source=ciphertext, key_provider=provider(monkeypatch, cluster, cluster.endpoints[0], key_arn))[0] \
        == plaintext
