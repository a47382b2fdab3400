#!/usr/bin/env bash
# The README's run command: installs what a fresh Debian machine lacks, builds `keyraft`,
# and starts a local cluster with `keyraft dev` (arguments pass through: --dir D, --nodes N).
# The aws CLI is installed too, so the printed commands work at once.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib.sh

step "system packages (librocksdb-dev, libssl-dev, pkg-config)"
install_system_packages

if ! command -v aws >/dev/null 2>&1; then
  step "aws CLI (pip)"
  python3 -m pip install -q --disable-pip-version-check awscli || echo "warning: could not install the aws CLI; the cluster runs anyway"
fi

step "build keyraft (debug; the first build takes several minutes)"
swift build --product keyraft

step "keyraft dev $*"
exec .build/debug/keyraft dev "$@"
