"""Offline checks of the suite's own SigV4 signer (no cluster needed): it must agree with
botocore byte for byte and reproduce the AWS signing test suite's POST vectors."""

from __future__ import annotations

import datetime as dt
import json
import os

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyraft_cluster import JSON_CONTENT_TYPE, build_request, repo_root, sign_v4

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
VECTORS = repo_root().parent / "shared" / "vectors" / "sigv4"
FIXED = dt.datetime(2026, 11, 29, 8, 15, 0, tzinfo=dt.timezone.utc)

BODIES = [
    b"{}",
    b"",
    json.dumps({"KeyId": "alias/test", "Plaintext": "aGVsbG8=", "EncryptionContext": {"tenant": "a"}}).encode(),
    json.dumps({"Description": "caf\u00e9 \u2603 \U0001f511"}, ensure_ascii=False).encode(),
    b"{" + b'"Plaintext": "' + b"A" * 70_000 + b'"}',
]
ENDPOINTS = ["https://127.0.0.1:8443", "https://127.0.0.1:40123", "https://localhost:9000"]


def botocore_signed(endpoint: str, target: str, body: bytes, monkeypatch, region: str = "us-east-1") -> AWSRequest:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: FIXED)
    request = AWSRequest(method="POST", url=endpoint + "/", data=body,
                         headers={"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": target})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", region).add_auth(request)
    return request


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("body", BODIES, ids=["empty-object", "empty", "encrypt", "unicode", "70k"])
def test_signer_matches_botocore(endpoint, body, monkeypatch):
    expected = botocore_signed(endpoint, "TrentService.Encrypt", body, monkeypatch)
    ours = build_request(endpoint, "TrentService.Encrypt", body).sign(ACCESS_KEY, SECRET_KEY, when=FIXED)
    assert ours.header("X-Amz-Date") == expected.headers["X-Amz-Date"] == "20261129T081500Z"
    assert ours.header("Authorization") == expected.headers["Authorization"]
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in ours.header("Authorization")


def test_signer_matches_botocore_canonical_request(monkeypatch):
    endpoint = ENDPOINTS[0]
    expected = botocore_signed(endpoint, "KeyraftAdmin.GetNodeStatus", b"{}", monkeypatch)
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", "us-east-1")
    del expected.headers["Authorization"]  # botocore would otherwise count it among the headers to sign
    expected_creq = signer.canonical_request(expected)
    ours = build_request(endpoint, "KeyraftAdmin.GetNodeStatus", b"{}")
    ours.set_header("X-Amz-Date", "20261129T081500Z")
    signed = sign_v4(method="POST", path="/", headers=ours.headers, body=b"{}", access_key=ACCESS_KEY,
                     secret_key=SECRET_KEY)
    assert signed["canonical_request"] == expected_creq
    assert signed["string_to_sign"] == signer.string_to_sign(expected, expected_creq)


def test_signer_with_other_scope_differs_from_botocore(monkeypatch):
    """Signing for another region changes the signature (the raw tests rely on it)."""
    expected = botocore_signed(ENDPOINTS[0], "TrentService.ListKeys", b"{}", monkeypatch)
    ours = build_request(ENDPOINTS[0], "TrentService.ListKeys", b"{}").sign(
        ACCESS_KEY, SECRET_KEY, when=FIXED, region="eu-west-1")
    assert "/eu-west-1/kms/aws4_request" in ours.header("Authorization")
    assert ours.header("Authorization") != expected.headers["Authorization"]
    again = botocore_signed(ENDPOINTS[0], "TrentService.ListKeys", b"{}", monkeypatch, region="eu-west-1")
    assert ours.header("Authorization") == again.headers["Authorization"]


def _vector_cases() -> list[str]:
    if not VECTORS.is_dir():
        return []
    cases = []
    for case in sorted(VECTORS.iterdir()):
        if not case.name.startswith("post-") or not (case / "context.json").is_file():
            continue
        context = json.loads((case / "context.json").read_text())
        if context.get("sign_body") or context.get("omit_session_token"):
            continue  # signs Content-Length and X-Amz-Content-Sha256, or adds the token after signing
        cases.append(case.name)
    return cases


def _parse_vector_request(text: str):
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, target, _ = lines[0].split(" ")
    path, _, query = target.partition("?")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line.startswith((" ", "\t")) and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "," + line.strip())
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    return method, path, query, headers, body.encode()


@pytest.mark.parametrize("case", _vector_cases() or ["(vectors missing)"])
def test_signer_reproduces_aws_vectors(case):
    if case == "(vectors missing)":
        if os.environ.get("CI") == "true":
            pytest.fail(f"SigV4 test vectors missing at {VECTORS}")
        pytest.skip(f"SigV4 test vectors not found at {VECTORS}")
    folder = VECTORS / case
    context = json.loads((folder / "context.json").read_text())
    method, path, query, headers, body = _parse_vector_request((folder / "request.txt").read_text())
    timestamp = dt.datetime.strptime(context["timestamp"], "%Y-%m-%dT%H:%M:%SZ").strftime("%Y%m%dT%H%M%SZ")
    headers.append(("X-Amz-Date", timestamp))
    token = context["credentials"].get("token")
    if token:
        headers.append(("X-Amz-Security-Token", token))
    signed = sign_v4(method=method, path=path, query=query, headers=headers, body=body,
                     access_key=context["credentials"]["access_key_id"],
                     secret_key=context["credentials"]["secret_access_key"],
                     region=context["region"], service=context["service"])
    assert signed["canonical_request"] == (folder / "header-canonical-request.txt").read_text()
    assert signed["string_to_sign"] == (folder / "header-string-to-sign.txt").read_text()
    assert signed["signature"] == (folder / "header-signature.txt").read_text().strip()
