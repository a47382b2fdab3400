#!/usr/bin/env bash
# The benchmark suite of docs/BENCHMARKS.md (issue 8), everything in one run on this machine,
# each figure next to its baseline as a ratio:
#   - a bare NIO TLS 1.3 HTTP/1.1 server (keyraft-bench baseline-server) and moto_server,
#     driven by the same load generator as Keyraft (keyraft-bench load), same connections;
#   - a 3-node cluster (lease reads): Decrypt on every node and on the followers only,
#     GenerateDataKey, Encrypt, CreateKey with fsync on (next to synced RocksDB batches alone),
#     the mixed workload; client-visible failover (leader SIGKILLed under load) and the
#     time to the first write after a leader kill;
#   - the same cluster in linearizable read mode; a 1-node cluster;
#   - scale: 10,000 and 100,000 keys: memory per node, data folder, snapshot, restart time.
# Release builds in $SCRATCH (default .build-release), temporary folders under /tmp; every
# process it starts is stopped on exit. Installs moto[server] with pip if moto_server is missing.
#
# The comparisons that matter most (Decrypt against the bare server, lease against linearizable,
# CreateKey against synced batches) run in ROUNDS interleaved rounds against clusters that are all
# up at once, and the summary gives medians: the machine is shared, and another process's burst
# then lands on one round of each side rather than on one side only. Every load run also reports
# the CPU time its server processes, the load generator and everything else used.
#
# Usage: scripts/bench-suite.sh
#   SECONDS_PER_CASE=10 CONNECTIONS=32 ROUNDS=3 SCALE_KEYS="10000 100000" SCRATCH=.build-release
#   PROFILE=1   also record `perf` on the three nodes during a Decrypt run and print where the time goes
#   ONLY=decrypt  only the Decrypt comparison with the bare NIO server (1 and 3 nodes, 1 and 2 generator threads)
#   EVENT_LOOP_THREADS=N  eventLoopThreads of every node of main and single, and the bare server's threads
#                         (default: the server's default for both)
#   KEEP=1      keep the temporary folder (results/*.json, logs, perf; about 4 GB with the scale cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_CASE:-10}
connections=${CONNECTIONS:-32}
rounds=${ROUNDS:-3}
scale_keys=${SCALE_KEYS:-"10000 100000"}
scratch=${SCRATCH:-.build-release}
suite_started=$(date +%s)

echo "== building (release, --scratch-path $scratch)"
for product in keyraft keyraft-bench; do
  swift build -c release --scratch-path "$scratch" --product "$product" >"/tmp/keyraft-suite-build.$$.log" 2>&1 \
    || { tail -30 "/tmp/keyraft-suite-build.$$.log"; rm -f "/tmp/keyraft-suite-build.$$.log"; exit 1; }
done
rm -f "/tmp/keyraft-suite-build.$$.log"
bin="$(pwd)/$scratch/release"
command -v moto_server >/dev/null || python3 -m pip install --quiet 'moto[server]'
command -v moto_server >/dev/null || { echo "moto_server is not installed and pip could not install it"; exit 1; }

work=$(mktemp -d /tmp/keyraft-suite.XXXXXX)
results="$work/results"
mkdir -p "$results"
pids=()        # every process this script started
clusters=()    # every cluster folder (their node-N.pid files name nodes started for us)

cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  # Nodes restarted by keyraft-bench (restart, failover) outlive it; `keyraft dev` stops them
  # by pid file, and this catches any left behind if it did not.
  for dir in "${clusters[@]}"; do
    for file in "$dir"/node-*.pid; do
      [ -f "$file" ] || continue
      pid=$(cat "$file")
      # Only a live `keyraft server` of this folder (never a process that reused a stale pid).
      [ -n "$pid" ] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "--config $dir/" && kill -TERM "$pid" 2>/dev/null
    done
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
note() { echo; echo "== $* (load average $(cut -d' ' -f1-3 /proc/loadavg))"; }

# start_cluster NAME NODES: `keyraft dev` in $work/NAME; sets $cluster_pid.
start_cluster() {
  local dir="$work/$1"
  rm -f "$dir/endpoints"
  "$bin/keyraft" dev --dir "$dir" --nodes "$2" >>"$work/$1.dev.log" 2>&1 &
  cluster_pid=$!
  pids+=("$cluster_pid")
  clusters+=("$dir")
  for _ in $(seq 1 450); do [ -f "$dir/endpoints" ] && return 0; sleep 0.2; done
  cat "$work/$1.dev.log"
  exit 1
}
stop_cluster() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

# start_tuned NAME NODES: start_cluster, then again with eventLoopThreads set when EVENT_LOOP_THREADS is.
start_tuned() {
  start_cluster "$1" "$2"
  [ -n "${EVENT_LOOP_THREADS:-}" ] || return 0
  stop_cluster "$cluster_pid"
  for file in "$work/$1"/node-*.yaml; do echo "eventLoopThreads: $EVENT_LOOP_THREADS" >>"$file"; done
  start_cluster "$1" "$2"
}

# load NAME ARGS...: one keyraft-bench load run, JSON in results/NAME.json, a table on stdout.
load() {
  local name=$1
  shift
  "$bin/keyraft-bench" load --json --label "$name" "$@" >"$results/$name.json"
  python3 "$work/report.py" show "$results/$name.json"
}

cat >"$work/report.py" <<'PY'
import glob, json, os, re, statistics, sys

def show(path):
    r = json.load(open(path))
    print(f"{r['label']}: {r['operation']}, {r['connections']} connections, {len(r['endpoints'])} endpoint(s), {r['seconds']:.1f} s")
    print(f"{'call':<16}{'ok':>8}{'failed':>8}{'per s':>12}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'longest gap':>12}")
    for c in r['calls']:
        print(f"{c['call']:<16}{c['ok']:>8}{c['failed']:>8}{c['throughput_per_s']:>10.0f}/s"
              f"{c['p50_ms']:>9.2f}{c['p90_ms']:>9.2f}{c['p99_ms']:>9.2f}{c['p999_ms']:>10.2f}{c['longest_gap_ms']:>12.1f}")
    if r['failures']:
        print("failures: " + ", ".join(f"{k}: {v}" for k, v in sorted(r['failures'].items())))
    if r.get('closed_after_answer'):
        print(f"(the server closed the connection after each of {r['closed_after_answer']} answers: one connection per call)")
    cpu = r.get('cpu')
    if cpu:
        print(f"CPU: server {cpu['server_s']:.1f} s ({cpu['server_us_per_call']:.0f} µs per call), load generator {cpu['client_s']:.1f} s"
              f" ({cpu['client_us_per_call']:.0f} µs per call); machine busy {cpu['machine_busy_s']:.1f} of {cpu['machine_s']:.1f} s,"
              f" of which other processes {other(cpu):.1f} s")
    if 'killed_at_ms' in r:
        print(f"leader (node {r['killed_node']}) SIGKILLed at {r['killed_at_ms']:.0f} ms; restarted after the run, "
              f"caught up in {r.get('killed_node_restarted_caught_up_ms', float('nan')):.0f} ms")

def other(cpu):
    return max(0.0, cpu['machine_busy_s'] - cpu['server_s'] - cpu['client_s'])

def runs(results, name):
    """The runs of NAME: NAME.json, or NAME-r1.json, NAME-r2.json, … (rounds)."""
    single = os.path.join(results, name + ".json")
    if os.path.exists(single): return [json.load(open(single))]
    paths = sorted(glob.glob(os.path.join(results, name + "-r*.json")), key=lambda p: int(p.rsplit("-r", 1)[1][:-5]))
    return [json.load(open(p)) for p in paths]

def call(r, name):
    for c in r['calls']:
        if c['call'] == name: return c
    return None

def summary(results):
    def rates(name):
        return [r['throughput_per_s'] for r in runs(results, name)]
    def med(values):
        return statistics.median(values) if values else None
    def line(label, name, base_name=None, base_label=""):
        values = rates(name)
        if not values:
            return
        text = f"{med(values):,.0f}/s"
        detail = " / ".join(f"{v:,.0f}" for v in values) if len(values) > 1 else ""
        out = f"  {label:<56}{text:>10}"
        if base_name:
            base = rates(base_name)
            if base:
                if len(base) == len(values) and len(values) > 1:
                    per_round = [v / b * 100 for v, b in zip(values, base)]
                    out += f"  {statistics.median(per_round):5.1f} % of {base_label} (rounds: {', '.join(f'{x:.0f} %' for x in per_round)})"
                else:
                    out += f"  {med(values) / med(base) * 100:6.1f} % of {base_label} ({med(base):,.0f}/s)"
        elif detail:
            out += f"  (rounds: {detail})"
        print(out)
    print("Throughput, median of the rounds (closed loop, same load generator, same connection count):")
    line("bare NIO TLS 1.3 server, Decrypt-sized exchange", "baseline-decrypt")
    line("Keyraft Decrypt, 3 nodes, every node (lease)", "keyraft-decrypt", "baseline-decrypt", "bare NIO")
    line("Keyraft Decrypt, 1 node", "single-decrypt", "baseline-decrypt", "bare NIO")
    line("bare NIO, load generator on 2 threads", "baseline-decrypt-t2")
    line("Keyraft Decrypt, 3 nodes, load generator on 2 threads", "keyraft-decrypt-t2", "baseline-decrypt-t2", "bare NIO")
    line("Keyraft Decrypt, 1 node, load generator on 2 threads", "single-decrypt-t2", "baseline-decrypt-t2", "bare NIO")
    line("Keyraft Decrypt, 3 nodes, followers only (lease)", "keyraft-decrypt-followers", "keyraft-decrypt", "every node")
    line("Keyraft Decrypt, 3 nodes, linearizable, every node", "linearizable-decrypt", "keyraft-decrypt", "lease")
    line("Keyraft Decrypt, 3 nodes, linearizable, followers only", "linearizable-decrypt-followers", "keyraft-decrypt-followers",
         "lease followers")
    line("moto_server Decrypt (plain HTTP)", "moto-decrypt")
    line("Keyraft Decrypt, 3 nodes", "keyraft-decrypt", "moto-decrypt", "moto")
    line("moto_server GenerateDataKey (plain HTTP)", "moto-generate-data-key")
    line("Keyraft GenerateDataKey, 3 nodes", "keyraft-generate-data-key", "moto-generate-data-key", "moto")
    line("moto_server mixed (plain HTTP)", "moto-mixed")
    line("Keyraft mixed, 3 nodes", "keyraft-mixed", "moto-mixed", "moto")
    line("Keyraft Encrypt, 3 nodes", "keyraft-encrypt")
    storage1, storage100 = [], []
    for path in sorted(glob.glob(os.path.join(results, "storage-r*.txt"))):
        for text in open(path):
            m = re.match(r"^(1|100)\s+([\d.]+)\s+([\d.]+)\s", text)
            if m and m.group(1) == "1": storage1.append(float(m.group(2)))
            if m and m.group(1) == "100": storage100.append(float(m.group(3)))
    creates = rates("keyraft-create-key")
    if storage1:
        print(f"  {'synced RocksDB batches alone, 1 entry each':<56}{med(storage1):>8,.0f}/s  (rounds: {' / '.join(f'{v:,.0f}' for v in storage1)})")
        print(f"  {'synced RocksDB batches alone, 100 entries each':<56}{med(storage100):>8,.0f}/s entries (rounds: {' / '.join(f'{v:,.0f}' for v in storage100)})")
    if creates and storage1 and len(creates) == len(storage1):
        per_round = [c / s * 100 for c, s in zip(creates, storage1)]
        print(f"  {'Keyraft CreateKey, 3 nodes, fsync on':<56}{med(creates):>8,.0f}/s  {statistics.median(per_round):5.1f} % of 1-entry batches"
              f" (rounds: {', '.join(f'{x:.0f} %' for x in per_round)})")
    print("CPU per successful call, median of the rounds: server processes / load generator; machine busy (of its CPU seconds);"
          " other processes' CPU:")
    for name in ["baseline-decrypt", "single-decrypt", "keyraft-decrypt", "baseline-decrypt-t2", "single-decrypt-t2",
                 "keyraft-decrypt-t2", "keyraft-decrypt-followers", "linearizable-decrypt",
                 "linearizable-decrypt-followers", "keyraft-generate-data-key", "keyraft-encrypt", "keyraft-create-key",
                 "keyraft-mixed", "moto-decrypt", "moto-generate-data-key"]:
        rs = [r for r in runs(results, name) if r.get('cpu')]
        if rs:
            server = med([r['cpu']['server_us_per_call'] for r in rs])
            client = med([r['cpu']['client_us_per_call'] for r in rs])
            others = " / ".join(f"{other(r['cpu']):.1f}" for r in rs)
            busy = med([r['cpu']['machine_busy_s'] / r['cpu']['machine_s'] * 100 for r in rs])
            print(f"  {name:<34}{server:>7.0f} µs /{client:>5.0f} µs   busy {busy:3.0f} %   other processes: {others} s of {rs[0]['cpu']['machine_s']:.0f} s")
    f = runs(results, "failover-under-load")
    if f:
        f = f[0]
        d, w = call(f, "Decrypt"), call(f, "CreateKey")
        print(f"Leader SIGKILLed at {f['killed_at_ms']:.0f} ms under load (Decrypt and CreateKey connections, 5 s client timeout):")
        print(f"  Decrypt: {d['ok']:,} ok, {d['failed']} failed, longest time without a successful Decrypt {d['longest_gap_ms']:.0f} ms")
        print(f"  CreateKey: {w['ok']:,} ok, {w['failed']} failed, longest time without a successful write {w['longest_gap_ms']:.0f} ms")
        print(f"  failures: {f['failures']}")
    path = os.path.join(results, "failover.txt")
    if os.path.exists(path):
        for text in open(path):
            if text.startswith("median"): print("  " + text.strip())
    print("Scale (3 nodes):")
    def stats_line(label, s):
        rss = [n.get('rss_kib', 0) / 1024 for n in s['nodes']]
        data = [n['data_bytes'] / 1048576 for n in s['nodes']]
        print(f"  {label:<30} RSS {', '.join(f'{x:.0f}' for x in rss)} MiB; data folder {', '.join(f'{x:.1f}' for x in data)} MiB;"
              f" KMS snapshot {s.get('snapshot_bytes', 0) / 1048576:.2f} MiB")
    zero = os.path.join(results, "stats-0.json")
    if os.path.exists(zero): stats_line("0 keys", json.load(open(zero)))
    targets = sorted(int(p.rsplit("-", 1)[1][:-5]) for p in glob.glob(os.path.join(results, "restart-*.json")))
    for t in targets:
        c = runs(results, f"create-{t}")[0]
        print(f"  {t:,} keys: CreateKey {c['throughput_per_s']:,.0f}/s on the way ({c['ok']:,} ok, {c['failed']} failed, p99 {c['p99_ms']:.0f} ms,"
              f" p99.9 {c['calls'][0]['p999_ms']:.0f} ms)")
        stats_line("  before the snapshot", json.load(open(os.path.join(results, f"stats-{t}-before-snapshot.json"))))
        snap = open(os.path.join(results, f"snapshot-ms-{t}.txt")).read().strip()
        print(f"    keyraft cluster snapshot: {snap} ms for the three nodes")
        r = json.load(open(os.path.join(results, f"restart-{t}.json")))
        print(f"    restart of follower {r['node']}: SIGTERM→exit {r['stop_ms']:.0f} ms; start→API answers {r['api_ms']:.0f} ms,"
              f" →caught up (lease valid) {r['caught_up_ms']:.0f} ms, →first Decrypt {r['first_decrypt_ms']:.0f} ms")
        stats_line("  after the restart", json.load(open(os.path.join(results, f"stats-{t}-after-restart.json"))))

if __name__ == "__main__":
    {"show": lambda: show(sys.argv[2]), "summary": lambda: summary(sys.argv[2])}[sys.argv[1]]()
PY
note "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); the clusters, servers and load generator share it"
echo "keyraft server processes already running on this machine (not ours): $(pgrep -f 'keyraft server' | wc -l)"

# everything: no ONLY; a part: ONLY=decrypt runs the Decrypt comparison alone.
everything() { [ -z "${ONLY:-}" ]; }
[ -z "${ONLY:-}" ] || [ "${ONLY:-}" = decrypt ] || { echo "ONLY must be empty or decrypt"; exit 2; }

note "starting: main (3 nodes, lease reads), lin (3 nodes, linearizable reads), single (1 node), the bare NIO server"
start_tuned main 3
main_pid=$cluster_pid
main="$work/main"
if everything; then
  # lin: a first start creates the folder; then readConsistency: linearizable in node-N.yaml.
  start_cluster lin 3
  stop_cluster "$cluster_pid"
  sed -i 's/^readConsistency: lease$/readConsistency: linearizable/' "$work"/lin/node-*.yaml
  grep -q '^readConsistency: linearizable$' "$work/lin/node-1.yaml"
  start_cluster lin 3
  lin_pid=$cluster_pid
fi
start_tuned single 1
single_pid=$cluster_pid
port=$(free_port)
# The bare server gets the nodes' thread count, so the comparison stays like for like.
"$bin/keyraft-bench" baseline-server --port "$port" --cert "$main/node-1.pem" --key "$main/node-1.key" \
  ${EVENT_LOOP_THREADS:+--threads "$EVENT_LOOP_THREADS"} >"$work/baseline.log" 2>&1 &
baseline_pid=$!
pids+=("$baseline_pid")
for _ in $(seq 1 100); do grep -q 'baseline-server: https' "$work/baseline.log" && break; sleep 0.1; done
cat "$work/baseline.log"

for round in $(seq 1 "$rounds"); do
  note "round $round of $rounds: Decrypt on the bare NIO server (Decrypt-sized exchange, no work), 1 node, 3 nodes"
  load "baseline-decrypt-r$round" --endpoints "https://127.0.0.1:$port" --ca "$main/ca.pem" --no-setup --op decrypt \
    --server-pids "$baseline_pid" --connections "$connections" --seconds "$seconds"
  load "single-decrypt-r$round" --dir "$work/single" --op decrypt --connections "$connections" --seconds "$seconds"
  load "keyraft-decrypt-r$round" --dir "$main" --op decrypt --connections "$connections" --seconds "$seconds"
  note "round $round of $rounds: the same three with the load generator on 2 threads (one thread cannot saturate the bare server)"
  load "baseline-decrypt-t2-r$round" --endpoints "https://127.0.0.1:$port" --ca "$main/ca.pem" --no-setup --op decrypt \
    --server-pids "$baseline_pid" --connections "$connections" --seconds "$seconds" --threads 2
  load "single-decrypt-t2-r$round" --dir "$work/single" --op decrypt --connections "$connections" --seconds "$seconds" --threads 2
  load "keyraft-decrypt-t2-r$round" --dir "$main" --op decrypt --connections "$connections" --seconds "$seconds" --threads 2
  everything || continue
  note "round $round of $rounds: Decrypt, lease against linearizable reads, every node and the two followers only"
  load "linearizable-decrypt-r$round" --dir "$work/lin" --op decrypt --connections "$connections" --seconds "$seconds"
  load "keyraft-decrypt-followers-r$round" --dir "$main" --only followers --op decrypt --connections "$connections" --seconds "$seconds"
  load "linearizable-decrypt-followers-r$round" --dir "$work/lin" --only followers --op decrypt --connections "$connections" --seconds "$seconds"
  note "round $round of $rounds: synced RocksDB batches alone (same disk), then CreateKey on 3 nodes with fsync on"
  "$bin/keyraft-bench" storage --seconds 2 | tee "$results/storage-r$round.txt"
  load "keyraft-create-key-r$round" --dir "$main" --op create-key --connections "$connections" --seconds "$seconds"
done
kill -TERM "$baseline_pid"; wait "$baseline_pid" 2>/dev/null || true
stop_cluster "$single_pid"
everything && stop_cluster "$lin_pid"

if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
  note "perf: the three nodes of main during a Decrypt run"
  perf record -F 499 -g -o "$work/perf.data" -p "$(cat "$main"/node-*.pid | paste -sd,)" -- sleep "$seconds" >/dev/null 2>&1 &
  perf_pid=$!
  load keyraft-decrypt-profiled --dir "$main" --op decrypt --connections "$connections" --seconds "$seconds"
  wait "$perf_pid" || true
  perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none >"$work/perf-dso.txt" 2>/dev/null || true
  perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
    | sed -E 's/^ +([0-9.]+%) +([0-9.]+%) +\[.\] +/\1 \2 /' | swift demangle --simplified >"$work/perf-children.txt" || true
  echo "where the nodes' CPU goes, by library (self time):"
  grep -v '^#' "$work/perf-dso.txt" | grep -v '^$' | sed -n 1,8p
  echo "inclusive time (with callees) of the request path's steps, share of the nodes' CPU:"
  grep -E ' (APIHandler\.(handle|respond)|SigV4Verifier\.verify|static SigV4AuthorizationHeader\.parse|static KMSRequestDecoder\.decode|FileAuditSink\.record|static KMSResponseEncoder\.encode|NodeHost\.flush|KeyraftNode\.submit|NIOSSLHandler\.(channelReadComplete|flush)|UUID\.init|NodeMetrics\.record)\(' \
    "$work/perf-children.txt" | awk '!seen[$0]++' | cut -c1-120 | sed -n 1,20p
fi

if ! everything; then
  stop_cluster "$main_pid"
  note "summary (suite took $(( $(date +%s) - suite_started )) s)"
  python3 "$work/report.py" summary "$results"
  exit 0
fi

for op in generate-data-key encrypt mixed; do
  note "Keyraft, 3 nodes: $op"
  load "keyraft-$op" --dir "$main" --op "$op" --connections "$connections" --seconds "$seconds"
done

note "moto_server (plain HTTP), a key created with boto3"
port=$(free_port)
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
pids+=("$moto_pid")
key=""
for _ in $(seq 1 100); do
  key=$(python3 - "$port" <<'PY' 2>/dev/null
import sys, boto3
kms = boto3.client("kms", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                   aws_access_key_id="AKIDBENCHMARK", aws_secret_access_key="benchmark-secret")
print(kms.create_key(Description="bench")["KeyMetadata"]["Arn"])
PY
) && [ -n "$key" ] && break
  sleep 0.2
done
[ -n "$key" ] || { cat "$work/moto.log"; exit 1; }
for op in decrypt generate-data-key mixed; do
  load "moto-$op" --endpoints "http://127.0.0.1:$port" --key-id "$key" --op "$op" --server-pids "$moto_pid" \
    --connections "$connections" --seconds "$seconds"
done
kill -TERM "$moto_pid"; wait "$moto_pid" 2>/dev/null || true

note "client-visible failover: $((connections - connections / 4)) Decrypt + $((connections / 4)) CreateKey connections, leader SIGKILLed after 4 s"
load failover-under-load --dir "$main" --op decrypt --connections "$connections" --write-connections "$((connections / 4))" \
  --seconds 12 --kill-leader-after-ms 4000 --timeout-ms 5000
note "time from SIGKILL of the leader to the first successful write (keyraft-bench failover)"
"$bin/keyraft-bench" failover --dir "$main" --runs 3 | tee "$results/failover.txt"
stop_cluster "$main_pid"

note "scale: a fresh 3-node cluster, keys created with keyraft-bench load --op create-key --count"
start_cluster scale 3
scale_pid=$cluster_pid
scale="$work/scale"
"$bin/keyraft-bench" node-stats --dir "$scale" --json >"$results/stats-0.json"
"$bin/keyraft-bench" node-stats --dir "$scale"
have=0
for target in $scale_keys; do
  note "scale: $have → $target keys"
  load "create-$target" --dir "$scale" --op create-key --connections "$connections" --count $((target - have))
  have=$target
  "$bin/keyraft-bench" node-stats --dir "$scale" --json >"$results/stats-$target-before-snapshot.json"
  "$bin/keyraft-bench" node-stats --dir "$scale"
  snapshot_started=$(date +%s%N)
  (set -a; . "$scale/env"; "$bin/keyraft" cluster snapshot)
  echo "$(( ($(date +%s%N) - snapshot_started) / 1000000 ))" >"$results/snapshot-ms-$target.txt"
  echo "keyraft cluster snapshot (the three nodes one after the other): $(cat "$results/snapshot-ms-$target.txt") ms"
  "$bin/keyraft-bench" restart --dir "$scale" --json >"$results/restart-$target.json"
  cat "$results/restart-$target.json"
  "$bin/keyraft-bench" node-stats --dir "$scale" --json >"$results/stats-$target-after-restart.json"
  "$bin/keyraft-bench" node-stats --dir "$scale"
done
stop_cluster "$scale_pid"

note "summary (suite took $(( $(date +%s) - suite_started )) s)"
python3 "$work/report.py" summary "$results"
