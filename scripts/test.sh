#!/usr/bin/env bash
# The README's test command: installs what a fresh Debian machine lacks, builds once,
# and runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib.sh

step "system packages (librocksdb-dev, libssl-dev, pkg-config)"
install_system_packages

step "python packages (pytest, boto3, awscli, aws-encryption-sdk)"
if python3 -c "import pytest, boto3, awscli, aws_encryption_sdk, aws_cryptographic_material_providers" >/dev/null 2>&1; then
  echo "present"
else
  python3 -m pip install -q --disable-pip-version-check pytest boto3 awscli aws-encryption-sdk aws-cryptographic-material-providers
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

step "multi-host chaos: 3 nodes in network namespaces; leader SIGKILL, partitions, rolling restart"
# Needs root and iproute2; elsewhere pytest skips it and prints why.
KEYRAFT_BIN="$PWD/.build/debug/keyraft" python3 -m pytest -q -rs -s -p no:cacheprovider Tests/multihost

step "simulator (release): swarm seeds, scenarios, canaries, same-seed-same-trace"
swift build -c release --product keyraft-sim
./scripts/sim-check.sh .build/release/keyraft-sim

step "all tests passed"
