#!/usr/bin/env bash
# The README's test command: installs what a fresh Debian machine lacks, builds once,
# and runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages (librocksdb-dev, libssl-dev, pkg-config)"
missing=()
if ! command -v pkg-config >/dev/null 2>&1; then
  missing=(pkg-config librocksdb-dev libssl-dev)
else
  pkg-config --exists rocksdb || missing+=(librocksdb-dev)
  pkg-config --exists libcrypto || missing+=(libssl-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
  else
    echo "error: missing system packages: ${missing[*]}" >&2
    echo "run as root, or first: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  echo "present"
fi

step "python packages (pytest, boto3, awscli, aws-encryption-sdk)"
if python3 -c 'import pytest, boto3, awscli, aws_encryption_sdk' >/dev/null 2>&1; then
  echo "present"
else
  python3 -m pip install -q --disable-pip-version-check pytest boto3 awscli aws-encryption-sdk
fi

step "dependency rules"
python3 scripts/check-deps.py

step "build (debug, with tests)"
swift build --build-tests

step "unit and integration tests"
export SWIFT_DETERMINISTIC_HASHING=1
swift test --skip-build 2>&1 | tee .build/test-output.txt
# swift test exits non-zero on failure (pipefail); this also refuses a run that executed nothing.
grep -qE 'Test run with [1-9][0-9]* tests? .* passed' .build/test-output.txt

step "conformance: a real 3-node cluster (keyraft dev) driven by boto3, the aws CLI and the AWS Encryption SDK"
KEYRAFT_BIN="$PWD/.build/debug/keyraft" python3 -m pytest -q -p no:cacheprovider Tests/conformance

step "simulator (release): swarm seeds, scenarios, canaries, same-seed-same-trace"
swift build -c release --product keyraft-sim
./scripts/sim-check.sh .build/release/keyraft-sim

step "all tests passed"
