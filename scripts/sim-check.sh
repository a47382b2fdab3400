#!/usr/bin/env bash
# The simulator's part of the test command (issue 4): in release mode, a fixed set of
# swarm seeds, every scenario, every canary (each must be caught), and the
# same-seed-same-trace check. Usage: scripts/sim-check.sh [path-to-keyraft-sim]
set -euo pipefail
cd "$(dirname "$0")/.."
sim=${1:-.build/release/keyraft-sim}
export SWIFT_DETERMINISTIC_HASHING=1 SWIFT_BACKTRACE=enable=no
seeds=${KEYRAFT_SIM_SEEDS:-1-200}

echo "-- swarm: seeds $seeds"
"$sim" --seeds "$seeds" --quiet

for scenario in Simulations/*.sim; do
  echo "-- scenario $scenario: seeds 1-3"
  "$sim" --scenario "$scenario" --seeds 1-3 --quiet
done

echo "-- same seed, same trace"
first=$("$sim" --seed 7 | tail -n 1)
second=$("$sim" --seed 7 | tail -n 1)
echo "run 1: $first"
echo "run 2: $second"
if [ "$first" != "$second" ] || [[ "$first" != trace* ]]; then
  echo "error: seed 7 gave different traces" >&2
  exit 1
fi

for canary in $("$sim" --list-canaries); do
  set +e
  output=$("$sim" --canary "$canary" --seeds 1-500 --quiet 2>&1)
  status=$?
  set -e
  caught=$(printf '%s\n' "$output" | grep -m1 '^failing seed' || true)
  if [ "$status" -eq 0 ] || [ "$status" -eq 2 ] || [ -z "$caught" ]; then
    echo "error: canary $canary was not caught in seeds 1-500 (exit $status)" >&2
    exit 1
  fi
  echo "-- canary $canary caught: $caught (exit $status): $(printf '%s\n' "$output" | grep -m1 -E 'VIOLATION|FAILURE|CRASH' | cut -c1-160)"
done
echo "-- simulator checks passed"
