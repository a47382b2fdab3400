#!/usr/bin/env bash
# Cluster benchmarks of docs/BENCHMARKS.md, in one run on this machine:
#   synced RocksDB batches alone (the disk's limit), replicated CreateKey with fsync on,
#   Decrypt and GenerateDataKey round-robin over 3 nodes, and leader-failover time.
# Usage: scripts/bench-cluster.sh [seconds per load case, default 10] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-32}
scratch=${SCRATCH:-.build}

swift build -c release --scratch-path "$scratch" --product keyraft >/dev/null
swift build -c release --scratch-path "$scratch" --product keyraft-bench >/dev/null
bin="$scratch/release"

dir=$(mktemp -d /tmp/keyraft-bench.XXXXXX)
"$bin/keyraft" dev --dir "$dir/cluster" --nodes 3 >"$dir/dev.log" 2>&1 &
dev=$!
trap 'kill -TERM $dev 2>/dev/null; wait $dev 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do [ -f "$dir/cluster/endpoints" ] && break; sleep 0.2; done
[ -f "$dir/cluster/endpoints" ] || { cat "$dir/dev.log"; exit 1; }

echo "== machine: $(nproc) cores, $(uname -r); cluster and load generator share it"
echo "== synced RocksDB write batches alone (same disk, same run)"
"$bin/keyraft-bench" storage --seconds 3
for op in create-key decrypt generate-data-key encrypt; do
  echo "== $op, 3 nodes, fsync on"
  "$bin/keyraft-bench" load --dir "$dir/cluster" --op "$op" --connections "$connections" --seconds "$seconds"
done
echo "== failover"
"$bin/keyraft-bench" failover --dir "$dir/cluster" --runs 5
