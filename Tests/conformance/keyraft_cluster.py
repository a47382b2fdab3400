"""Drives a real Keyraft dev cluster for the conformance suite.

`Cluster` starts `keyraft dev --dir D --nodes 3`, waits for `D/endpoints`, and offers
boto3 clients per node, node status (`KeyraftAdmin.GetNodeStatus`), leader discovery,
node kill and restart, and raw SigV4-signed requests whose every part a test can break.

`sign_v4` is a small, independent SigV4 signer (POST, path `/`, no query): the raw
protocol tests need to sign with a chosen time, region or secret and then tamper with
the result, which botocore's signer does not allow. `test_sigv4_helper.py` checks it
against botocore and the AWS test vectors.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "111122223333"
SERVICE = "kms"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
KMS_TARGET_PREFIX = "TrentService."
NODE_STATUS_TARGET = "KeyraftAdmin.GetNodeStatus"
ADMIN_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/dev"
LIMITED_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/limited"
KEY_ARN_PREFIX = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
ALIAS_ARN_PREFIX = f"arn:aws:kms:{REGION}:{ACCOUNT}:"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KEY_ARN_RE = re.compile(r"^arn:aws:kms:us-east-1:111122223333:key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NODES = 3

#: Bounds, unit last.
ENDPOINTS_WAIT_SECONDS = 90
READY_WAIT_SECONDS = 30
LEADER_WAIT_SECONDS = 20
DEV_STOP_WAIT_SECONDS = 30
STATUS_TIMEOUT_SECONDS = 5
RAW_TIMEOUT_SECONDS = 15
LOG_TAIL_LINES = 40


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def keyraft_binary() -> Path:
    return Path(os.environ.get("KEYRAFT_BIN") or repo_root() / ".build" / "debug" / "keyraft")


def key_arn(key_id: str) -> str:
    return KEY_ARN_PREFIX + key_id


def alias_arn(alias_name: str) -> str:
    return ALIAS_ARN_PREFIX + alias_name


# MARK: - SigV4 (independent implementation, checked against botocore)


def amz_date(when: dt.datetime) -> str:
    """`YYYYMMDDTHHMMSSZ` of an aware or naive-UTC datetime."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y%m%dT%H%M%SZ")


def _canonical_header_value(value: str) -> str:
    return " ".join(value.strip().split())


def canonical_request(method: str, path: str, query: str, headers: list[tuple[str, str]],
                      signed_headers: list[str], body: bytes) -> str:
    """The SigV4 canonical request. `path` must already be normalized and encoded."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(_canonical_header_value(value))
    lines = []
    for name in signed_headers:
        assert name in values, f"signed header {name} is not in the request"
        lines.append(f"{name}:{','.join(values[name])}\n")
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in pairs)
    return "\n".join([method, path, canonical_query, "".join(lines), ";".join(signed_headers),
                      hashlib.sha256(body).hexdigest()])


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def sign_v4(*, method: str, path: str, headers: list[tuple[str, str]], body: bytes, access_key: str,
            secret_key: str, region: str = REGION, service: str = SERVICE, query: str = "",
            signed_headers: list[str] | None = None) -> dict[str, str]:
    """Signs a request whose `headers` already hold `Host` and `X-Amz-Date`.

    Returns the intermediate values and the `Authorization` header value:
    `{"canonical_request", "string_to_sign", "signature", "authorization"}`.
    By default every header given is signed (as botocore does for KMS calls).
    """
    date_values = [v for n, v in headers if n.lower() == "x-amz-date"]
    assert len(date_values) == 1, "sign_v4 needs exactly one X-Amz-Date header"
    timestamp = date_values[0]
    names = signed_headers if signed_headers is not None else sorted({n.lower() for n, _ in headers})
    names = sorted(n.lower() for n in names)
    creq = canonical_request(method, path, query, headers, names, body)
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    signature = hmac.new(signing_key(secret_key, timestamp[:8], region, service), sts.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    authorization = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                     f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return {"canonical_request": creq, "string_to_sign": sts, "signature": signature, "authorization": authorization}


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))

    @property
    def error_type(self) -> str | None:
        try:
            return self.json().get("__type")
        except ValueError:
            return None

    @property
    def message(self) -> str | None:
        try:
            document = self.json()
        except ValueError:
            return None
        return document.get("message", document.get("Message"))

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body[:300]!r}"


@dataclass
class RawRequest:
    """One `POST /` to a node, built header by header so a test can break any part."""

    endpoint: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def host(self) -> str:
        """The Host header as botocore signs it: the default port (443) left out."""
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme == "https" and parts.port == 443:
            return parts.hostname
        return parts.netloc

    def set_header(self, name: str, value: str | None) -> None:
        self.headers = [(n, v) for n, v in self.headers if n.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def sign(self, access_key: str, secret_key: str, *, when: dt.datetime | None = None, region: str = REGION,
             service: str = SERVICE, signed_headers: list[str] | None = None) -> RawRequest:
        when = when or dt.datetime.now(dt.timezone.utc)
        self.set_header("Authorization", None)
        self.set_header("X-Amz-Date", amz_date(when))
        signed = sign_v4(method="POST", path="/", headers=self.headers, body=self.body, access_key=access_key,
                         secret_key=secret_key, region=region, service=service, signed_headers=signed_headers)
        self.set_header("Authorization", signed["authorization"])
        return self


def build_request(endpoint: str, target: str | None, body: bytes | str | dict = b"{}") -> RawRequest:
    if isinstance(body, dict):
        body = json.dumps(body).encode("utf-8")
    elif isinstance(body, str):
        body = body.encode("utf-8")
    request = RawRequest(endpoint=endpoint, body=body)
    request.set_header("Host", request.host)
    request.set_header("Content-Type", JSON_CONTENT_TYPE)
    if target is not None:
        request.set_header("X-Amz-Target", target)
    return request


def send(request: RawRequest, ca_file: str, timeout: float = RAW_TIMEOUT_SECONDS) -> RawResponse:
    """Sends exactly the headers of `request` (plus Content-Length), over TLS verified with `ca_file`."""
    parts = urllib.parse.urlsplit(request.endpoint)
    context = ssl.create_default_context(cafile=ca_file)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=timeout)
    try:
        connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(request.body)))
        try:
            connection.endheaders(message_body=request.body)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) and close before reading the whole body: read the answer.
            pass
        response = connection.getresponse()
        body = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


# MARK: - Error assertions


def expect_error(code: str, call, *args, status: int = 400, message: str | None = None,
                 contains: tuple[str, ...] | list[str] | str = (), startswith: str | None = None, **kwargs) -> str:
    """Calls `call(*args, **kwargs)`, which must fail with AWS error `code`; returns the message."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    error = info.value.response.get("Error", {})
    text = error.get("Message", "")
    got = error.get("Code")
    assert got == code, f"expected {code}, got {got}: {text}"
    http_status = info.value.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert http_status == status, f"{code}: expected HTTP {status}, got {http_status}"
    if message is not None:
        assert text == message
    if isinstance(contains, str):
        contains = (contains,)
    for part in contains:
        assert part in text, f"{part!r} not in {text!r}"
    if startswith is not None:
        assert text.startswith(startswith), f"{text!r} does not start with {startswith!r}"
    return text


def validation_message(*failures: str) -> str:
    noun = "error" if len(failures) == 1 else "errors"
    return f"{len(failures)} validation {noun} detected: " + "; ".join(failures)


def constraint(member: str, text: str, null: bool = False) -> str:
    subject = "Value null" if null else "Value"
    return f"{subject} at '{member}' failed to satisfy constraint: {text}"


# MARK: - Processes


def _pid_alive(pid: int) -> bool:
    """True if `pid` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def _is_keyraft(pid: int, binary: Path) -> bool:
    """Guards SIGKILL against pid reuse: the process must run the keyraft binary."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(binary.name.encode()) or part.endswith(b"keyraft") for part in cmdline[:2])


def tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError as error:
        return f"({error})"
    return "\n".join(text.splitlines()[-lines:])


# MARK: - The cluster


class Cluster:
    """A `keyraft dev` cluster of `nodes` nodes (three by default), numbered 1...N as in
    `D/node-N.yaml`, plus any node a test added (`add_node_files`, then `start_node`)."""

    def __init__(self, binary: Path, work: Path, nodes: int = NODES):
        self.binary = binary
        self.work = work
        self.nodes = nodes
        #: Nodes a test added beyond dev's own. dev does not stop them: `stop` does.
        self.added: list[int] = []
        self.dir = work / "dev"
        self.dev_log_path = work / "dev.log"
        self.dev: subprocess.Popen | None = None
        self.restarted: dict[int, subprocess.Popen] = {}
        self.killed: set[int] = set()
        self.endpoints: list[str] = []
        self.credentials: list[dict] = []
        self.env: dict[str, str] = {}
        self._clients: dict[tuple, object] = {}
        self._lock = threading.Lock()
        self._round_robin = itertools.count()
        self._log_files: list = []

    # -- lifecycle

    def start(self) -> None:
        log = open(self.dev_log_path, "ab")
        self._log_files.append(log)
        self.dev = subprocess.Popen(
            [str(self.binary), "dev", "--dir", str(self.dir), "--nodes", str(self.nodes)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        endpoints_file = self.dir / "endpoints"
        deadline = time.monotonic() + ENDPOINTS_WAIT_SECONDS
        while not endpoints_file.exists():
            if self.dev.poll() is not None:
                raise RuntimeError(f"`keyraft dev` exited with {self.dev.returncode} before writing {endpoints_file}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{endpoints_file} did not appear within {ENDPOINTS_WAIT_SECONDS} s")
            time.sleep(0.2)
        self.endpoints = [line.strip() for line in endpoints_file.read_text().splitlines() if line.strip()]
        if len(self.endpoints) != self.nodes:
            raise RuntimeError(f"{endpoints_file} lists {len(self.endpoints)} endpoints, expected {self.nodes}: {self.endpoints}")
        self.credentials = json.loads((self.dir / "credentials.json").read_text())["credentials"]
        self.env = parse_env_file(self.dir / "env")
        self.wait_ready()

    def stop(self) -> list[str]:
        """SIGTERM to dev, ≤ 30 s, then SIGKILL what is left. Returns what went wrong."""
        problems: list[str] = []
        # An idle kept-alive TLS connection holds a stopping node for its TLS shutdown timeout.
        self.close_clients()
        for node in self.added:
            # dev only stops the nodes it made: SIGTERM the added ones first, as dev would.
            process = self.restarted.get(node)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=DEV_STOP_WAIT_SECONDS)
                except subprocess.TimeoutExpired:
                    problems.append(f"added node {node} (pid {process.pid}) did not exit within "
                                    f"{DEV_STOP_WAIT_SECONDS} s of SIGTERM; killed")
                    process.kill()
                    process.wait(timeout=10)
        if self.dev is not None and self.dev.poll() is None:
            self.dev.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + DEV_STOP_WAIT_SECONDS
            while self.dev.poll() is None and time.monotonic() < deadline:
                # Nodes this suite restarted are its own children: reap them as dev stops them,
                # or dev would wait for a zombie (kill(pid, 0) still succeeds on one).
                for process in self.restarted.values():
                    process.poll()
                time.sleep(0.05)
            if self.dev.poll() is None:
                problems.append(f"`keyraft dev` did not exit within {DEV_STOP_WAIT_SECONDS} s of SIGTERM; killed")
                self.dev.kill()
                self.dev.wait(timeout=10)
            elif self.dev.returncode != 0:
                problems.append(f"`keyraft dev` exited with {self.dev.returncode} after SIGTERM (expected 0)")
        elif self.dev is not None and self.dev.returncode not in (0, None):
            problems.append(f"`keyraft dev` had already exited with {self.dev.returncode}")
        for process in self.restarted.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for node in self.node_ids:
            pid = self.read_pid(node)
            if pid is not None and _pid_alive(pid) and _is_keyraft(pid, self.binary):
                problems.append(f"node {node} (pid {pid}) still ran after dev exited; SIGKILL")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for process in self.restarted.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for log in self._log_files:
            log.close()
        return problems

    def problem(self) -> str | None:
        """Why the cluster cannot serve the next test (dev or a node died), or None.

        Nodes a test killed on purpose (`kill_node`) and has not restarted are not counted."""
        if self.dev is None:
            return "`keyraft dev` was never started"
        if self.dev.poll() is not None:
            return f"`keyraft dev` exited with {self.dev.returncode}"
        for node in self.node_ids:
            if node in self.killed:
                continue
            pid = self.read_pid(node)
            if pid is None or not _pid_alive(pid):
                return f"node {node} (pid {pid}) is not running"
        return None

    def wait_ready(self, timeout: float = READY_WAIT_SECONDS) -> int:
        """Waits until every node answers its status and all name the same leader."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            statuses = {n: self.try_status(n) for n in self.node_ids}
            last = statuses
            if all(statuses.values()):
                leaders = {s.get("LeaderId") for s in statuses.values()}
                roles = [s.get("Role") for s in statuses.values()]
                if len(leaders) == 1 and None not in leaders and roles.count("Leader") == 1 \
                        and not any(s.get("Sealed") for s in statuses.values()):
                    return leaders.pop()
            time.sleep(0.2)
        raise RuntimeError(f"the cluster did not settle on one leader within {timeout} s: {last}")

    # -- files

    @property
    def node_ids(self) -> list[int]:
        return list(range(1, self.nodes + 1)) + self.added

    def config_path(self, node: int) -> Path:
        return self.dir / f"node-{node}.yaml"

    def config_value(self, node: int, key: str) -> str | None:
        """A top-level scalar of `D/node-N.yaml` (quotes removed), or None."""
        match = re.search(rf"^{re.escape(key)}:[ \t]*(.*?)[ \t]*$", self.config_path(node).read_text(), re.MULTILINE)
        if match is None:
            return None
        value = match.group(1)
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value

    def admin_address(self, node: int) -> str:
        """`host:port` of the node's admin listener (/metrics, /healthz, /readyz)."""
        address = self.config_value(node, "adminAddress")
        assert address, f"no adminAddress in {self.config_path(node)}"
        return address

    def node_log(self, node: int) -> Path:
        """Where the node logs now: `node-N.log` (dev), `node-N.restart.log` once the suite (re)started it."""
        return self.dir / (f"node-{node}.restart.log" if node in self.restarted else f"node-{node}.log")

    def node_logs(self, node: int) -> list[Path]:
        return [path for path in (self.dir / f"node-{node}.log", self.dir / f"node-{node}.restart.log") if path.exists()]

    def log_count(self, node: int, text: str) -> int:
        """How often `text` occurs in the node's logs (dev's and the suite's)."""
        return sum(path.read_text(errors="replace").count(text) for path in self.node_logs(node))

    def wait_log(self, node: int, text: str, more_than: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.log_count(node, text) <= more_than:
            assert time.monotonic() < deadline, \
                f"node {node} did not log {text!r} within {timeout} s:\n{tail(self.node_log(node), 20)}"
            time.sleep(0.05)

    @property
    def ca(self) -> str:
        return str(self.dir / "ca.pem")

    @property
    def admin(self) -> dict:
        return self.credentials[0]

    @property
    def limited(self) -> dict:
        return self.credentials[1]

    def user(self, name: str) -> dict:
        return {"admin": self.admin, "limited": self.limited}[name]

    def endpoint(self, node: int) -> str:
        return self.endpoints[node - 1]

    def read_pid(self, node: int) -> int | None:
        try:
            return int((self.dir / f"node-{node}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def pid(self, node: int) -> int:
        pid = self.read_pid(node)
        assert pid is not None, f"no pid in {self.dir}/node-{node}.pid"
        return pid

    def log_files(self) -> list[Path]:
        """dev's output and every `D/*.log` (node logs; not the data folders, where RocksDB's
        write-ahead logs are also called `*.log`)."""
        files = [self.dev_log_path]
        if self.dir.is_dir():
            files += sorted(self.dir.glob("*.log"))
        return files

    def log_tails(self, lines: int = LOG_TAIL_LINES) -> str:
        parts = []
        for path in self.log_files():
            parts.append(f"----- {path} (last {lines} lines) -----\n{tail(path, lines)}")
        return "\n".join(parts)

    # -- clients

    def client(self, node: int, user: str = "admin", *, validate: bool = True, max_attempts: int = 8,
               read_timeout: float = 30, fresh: bool = False):
        """A boto3 KMS client for one node, cached unless `fresh`. `validate=False` skips botocore's
        own parameter checks, so that the server's validation can be seen."""
        key = (node, user, validate, max_attempts, read_timeout)
        with self._lock:
            if fresh or key not in self._clients:
                creds = self.user(user)
                session = boto3.session.Session()
                client = session.client(
                    "kms", endpoint_url=self.endpoint(node), verify=self.ca, region_name=REGION,
                    aws_access_key_id=creds["accessKeyId"], aws_secret_access_key=creds["secretAccessKey"],
                    config=Config(retries={"max_attempts": max_attempts, "mode": "standard"},
                                  connect_timeout=5, read_timeout=read_timeout,
                                  parameter_validation=validate))
                if fresh:
                    return client
                self._clients[key] = client
            return self._clients[key]

    def close_clients(self) -> None:
        """Closes the cached clients' connections; later `client` calls make new ones."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass

    def next_client(self, user: str = "admin", nodes: list[int] | None = None):
        """Round-robin over `nodes` (default: every node)."""
        nodes = nodes or self.node_ids
        return self.client(nodes[next(self._round_robin) % len(nodes)], user)

    # -- raw requests

    def request(self, node: int, target: str | None, body: bytes | str | dict = b"{}") -> RawRequest:
        return build_request(self.endpoint(node), target, body)

    def sign(self, request: RawRequest, user: str = "admin", **kwargs) -> RawRequest:
        creds = self.user(user)
        return request.sign(creds["accessKeyId"], creds["secretAccessKey"], **kwargs)

    def send(self, request: RawRequest, timeout: float = RAW_TIMEOUT_SECONDS) -> RawResponse:
        return send(request, self.ca, timeout)

    def call_raw(self, node: int, operation: str, body: bytes | str | dict = b"{}", user: str = "admin") -> RawResponse:
        return self.send(self.sign(self.request(node, KMS_TARGET_PREFIX + operation, body), user))

    # -- node status and leadership

    def status(self, node: int, timeout: float = STATUS_TIMEOUT_SECONDS) -> dict:
        """`KeyraftAdmin.GetNodeStatus`, signed by botocore's SigV4Auth."""
        creds = self.admin
        url = self.endpoint(node) + "/"
        aws_request = AWSRequest(method="POST", url=url, data=b"{}",
                                 headers={"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": NODE_STATUS_TARGET})
        SigV4Auth(Credentials(creds["accessKeyId"], creds["secretAccessKey"]), SERVICE, REGION).add_auth(aws_request)
        request = build_request(self.endpoint(node), None, b"{}")
        for name, value in aws_request.headers.items():
            request.set_header(name, value)
        response = send(request, self.ca, timeout)
        if response.status != 200:
            raise RuntimeError(f"GetNodeStatus on node {node}: {response}")
        return response.json()

    def try_status(self, node: int, timeout: float = STATUS_TIMEOUT_SECONDS) -> dict | None:
        try:
            return self.status(node, timeout)
        except (OSError, RuntimeError, ValueError, http.client.HTTPException):
            return None

    def leader(self, timeout: float = LEADER_WAIT_SECONDS, among: list[int] | None = None) -> int:
        """The node that says it is Leader and that the other answering nodes name as leader."""
        among = among or self.node_ids
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            statuses = {n: self.try_status(n) for n in among}
            last = statuses
            leaders = [n for n, s in statuses.items() if s and s.get("Role") == "Leader"]
            if len(leaders) == 1:
                named = {s.get("LeaderId") for s in statuses.values() if s}
                if named == {leaders[0]}:
                    return leaders[0]
            time.sleep(0.1)
        raise AssertionError(f"no agreed leader among nodes {among} within {timeout} s: {last}")

    def followers(self) -> list[int]:
        leader = self.leader()
        return [n for n in self.node_ids if n != leader]

    # -- node processes

    def kill_node(self, node: int, sig: int = signal.SIGKILL, timeout: float = 10) -> int:
        pid = self.pid(node)
        assert _is_keyraft(pid, self.binary), f"pid {pid} of node {node} is not a keyraft process"
        self.killed.add(node)
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            assert time.monotonic() < deadline, f"node {node} (pid {pid}) still runs {timeout} s after signal {sig}"
            time.sleep(0.05)
        return pid

    def start_node(self, node: int) -> subprocess.Popen:
        """`keyraft server --config D/node-N.yaml` as the suite's child (log in `node-N.restart.log`)."""
        if node in self.restarted:
            self.restarted[node].poll()  # reap an earlier run of it
        log = open(self.dir / f"node-{node}.restart.log", "ab")
        self._log_files.append(log)
        process = subprocess.Popen(
            [str(self.binary), "server", "--config", str(self.dir / f"node-{node}.yaml")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.restarted[node] = process
        self.killed.discard(node)
        return process

    def reap(self) -> None:
        """Collects the exit status of the suite's own node processes that have ended."""
        for process in self.restarted.values():
            process.poll()

    # -- the keyraft CLI

    def keyraft(self, *args: str, endpoints: list[str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """`bash -c '. D/env && KEYRAFT_ENDPOINTS=… keyraft ARGS'`: the CLI as an operator runs it,
        with no other AWS settings. `endpoints` defaults to every node's (added ones included)."""
        endpoints = endpoints if endpoints is not None else [self.endpoint(n) for n in self.node_ids]
        script = (f". {shlex.quote(str(self.dir / 'env'))} && KEYRAFT_ENDPOINTS={shlex.quote(','.join(endpoints))} "
                  f"{shlex.quote(str(self.binary))} " + " ".join(shlex.quote(a) for a in args))
        return subprocess.run(["bash", "-c", script], env=aws_client_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    # -- adding a node

    def add_node_files(self, node: int) -> str:
        """Prepares node `node` the way an operator would, without starting it: its certificate
        (`keyraft certs --dir D --node N`), `D/node-N.yaml` copied from the last node's with its own
        id, data folder, pid file, certificate and free ports, peers = every current node. Adds its
        peer address to every current node's `peers` and sends each SIGHUP, waiting for
        "peers reloaded" in its log. Returns the new node's endpoint."""
        assert node not in self.node_ids, f"node {node} already exists"
        assert node == len(self.endpoints) + 1, "added nodes are numbered after the existing ones"
        issued = subprocess.run([str(self.binary), "certs", "--dir", str(self.dir), "--node", str(node)],
                                capture_output=True, text=True, timeout=60)
        assert issued.returncode == 0, f"keyraft certs --node {node}: {issued.stdout}{issued.stderr}"
        assert (self.dir / f"node-{node}.pem").is_file() and (self.dir / f"node-{node}.key").is_file(), issued.stdout
        template_node = self.node_ids[-1]
        peer_port, api_port, admin_port = free_ports(3)
        peer_address = f"127.0.0.1:{peer_port}"
        peers = {n: self.config_value(n, "peerAddress") for n in self.node_ids}
        lines = []
        skipping_peers = False
        for line in self.config_path(template_node).read_text().splitlines():
            if skipping_peers and line.startswith((" ", "\t")):
                continue
            skipping_peers = False
            key = line.split(":", 1)[0]
            if key == "peers":
                lines.append("peers:")
                lines += [f'  {n}: "{address}"' for n, address in peers.items()]
                skipping_peers = True
                continue
            replacement = {
                "nodeId": f"nodeId: {node}",
                "dataDir": f"dataDir: node-{node}",
                "pidFile": f"pidFile: node-{node}.pid",
                "peerAddress": f'peerAddress: "{peer_address}"',
                "apiAddress": f'apiAddress: "127.0.0.1:{api_port}"',
                "adminAddress": f'adminAddress: "127.0.0.1:{admin_port}"',
                "auditDir": f"auditDir: node-{node}-audit",
            }.get(key)
            if replacement is not None:
                lines.append(replacement)
            elif line.strip().startswith(("certificate:", "privateKey:")):
                lines.append(line.replace(f"node-{template_node}.", f"node-{node}."))
            elif line.startswith("#"):
                lines.append(f"# node {node}, added by the conformance suite (copied from node-{template_node}.yaml)")
            else:
                lines.append(line)
        text = "\n".join(lines) + "\n"
        assert not any(f"node-{template_node}" in l for l in lines if not l.startswith("#")), \
            f"node-{node}.yaml still names node {template_node}:\n{text}"
        self.config_path(node).write_text(text)
        for n in self.node_ids:
            self.set_peer(n, node, peer_address)
        for n in self.node_ids:
            self.reload_peers(n)
        self.endpoints.append(f"https://127.0.0.1:{api_port}")
        self.added.append(node)
        self.killed.add(node)  # not running yet: `start_node` clears it
        return self.endpoint(node)

    def set_peer(self, node: int, peer: int, address: str) -> None:
        """Adds (or replaces) `peer: "address"` under `peers:` in `D/node-N.yaml`."""
        path = self.config_path(node)
        lines = path.read_text().splitlines()
        lines = [l for l in lines if not re.match(rf"^\s+{peer}:\s", l)]
        index = next((i for i, l in enumerate(lines) if re.match(r"^peers:", l)), None)
        assert index is not None, f"no peers: in {path}"
        if lines[index].strip() == "peers: {}":
            lines[index] = "peers:"
        lines.insert(index + 1, f'  {peer}: "{address}"')
        path.write_text("\n".join(lines) + "\n")

    def reload_peers(self, node: int, timeout: float = 10) -> None:
        """SIGHUP to the node; waits until it logs "peers reloaded"."""
        before = self.log_count(node, "peers reloaded")
        pid = self.pid(node)
        assert _is_keyraft(pid, self.binary), f"pid {pid} of node {node} is not a keyraft process"
        os.kill(pid, signal.SIGHUP)
        self.wait_log(node, "peers reloaded", more_than=before, timeout=timeout)


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback TCP ports free right now (held together while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextlib.contextmanager
def own_cluster(work: Path, nodes: int = NODES):
    """A separate `keyraft dev` cluster in `work`, for tests that change membership or kill
    nodes and must not disturb the session's. Fails (never skips) without the binary; stops
    the cluster afterwards and fails if that went wrong."""
    binary = keyraft_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"keyraft binary not found or not executable at {binary}", pytrace=False)
    running = Cluster(binary, work, nodes)
    try:
        running.start()
    except Exception as error:  # noqa: BLE001 - any startup failure fails with the logs
        problems = running.stop()
        pytest.fail(f"could not start `keyraft dev` in {running.dir}: {error}\n"
                    f"teardown: {problems or 'clean'}\n{running.log_tails()}", pytrace=False)
    try:
        yield running
    finally:
        problems = running.stop()
        if problems:
            pytest.fail("cluster teardown: " + "; ".join(problems) + f"\n{running.log_tails()}", pytrace=False)


def parse_env_file(path: Path) -> dict[str, str]:
    """`export NAME=value` lines (shell-quoted values allowed)."""
    env = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            words = words[1:]
        for word in words:
            if "=" in word:
                name, value = word.split("=", 1)
                env[name] = value
    return env


def aws_client_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """A process environment with every AWS_* variable removed and shared config files hidden."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = "/nonexistent/keyraft-conformance/config"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/keyraft-conformance/credentials"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_PAGER"] = ""
    return env
