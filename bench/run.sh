#!/usr/bin/env bash
# Sandkasse against the peer validators, same files, same run.
#
#   bench/run.sh PEERS_DIR
#
# PEERS_DIR is a copy of ../shared/bench/peers with `npm install` done (see its
# README). This script builds our benchmark binary and CLI, runs the peers'
# run-all.sh and then our benchmarks on the peers' corpus/ files, and writes
# a markdown table to $OUT/table.md (also printed).
#
# Environment: RUNS (timed passes per peer and benchmark samples; default 7),
# BENCHTIME (go test -benchtime per sample; default 1s), OUT (default
# PEERS_DIR/results-sandkasse), PEERS=0 to reuse the peers' last results.
# Everything runs in the foreground, one process at a time; nothing is left
# running.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=$(cd "${1:?usage: bench/run.sh PEERS_DIR}" && pwd)
RUNS=${RUNS:-7}
BENCHTIME=${BENCHTIME:-1s}
OUT=${OUT:-$PEERS_DIR/results-sandkasse}
mkdir -p "$OUT"
CORPUS=$PEERS_DIR/corpus
EXAMPLES_PKG=$PEERS_DIR/node_modules/hl7.fhir.r4.examples

[ -d "$PEERS_DIR/node_modules/@medplum/core" ] || { echo "no node_modules in $PEERS_DIR: run npm install there first" >&2; exit 2; }
[ -f "$CORPUS/examples.ndjson" ] || (cd "$PEERS_DIR" && node make-corpus.js)

# Our side: benchmark binary, CLI (if it builds yet), first-line timer.
(cd "$ROOT" && go test -c -o "$OUT/validator.test" ./validator)
(cd "$ROOT" && go build -o "$OUT/firstline" ./bench/firstline)
CLI=""
if (cd "$ROOT" && go build -o "$OUT/sandkasse" ./cmd/sandkasse) 2>"$OUT/cli-build.log"; then
  CLI=$OUT/sandkasse
else
  echo "cmd/sandkasse did not build (see $OUT/cli-build.log): CLI rows skipped" >&2
fi

{
  echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit=$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- validator cmd || echo '+dirty')"
  echo "cpus=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "go=$(go version | cut -d' ' -f3)"
  echo "node=$(node --version)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/env.txt"

# Ours, sequential (the compared figure): RUNS samples of BENCHTIME each, one
# process per corpus so its peak RSS is that corpus's alone. Run once before
# and once after the peers, so load from elsewhere on the machine during the
# run weighs on both sides; the table takes the median of all samples.
cd "$ROOT/validator"
export SANDKASSE_BENCH_CORPUS=$CORPUS
rm -f "$OUT"/bench-Examples.* "$OUT"/bench-BigTransaction.*
ours() {
  for b in Examples BigTransaction; do
    /usr/bin/time -f '{"wall_s":%e,"time_maxrss_kb":%M}' -a -o "$OUT/bench-$b.time" \
      "$OUT/validator.test" -test.run '^$' -test.bench "^BenchmarkValidate$b\$" -test.benchmem \
      -test.count "$RUNS" -test.benchtime "$BENCHTIME" >> "$OUT/bench-$b.txt"
    echo "sandkasse $b ($1): $(grep -h "^Benchmark" "$OUT/bench-$b.txt" | tail -1)"
  done
}
ours before

# Peers (their own script; results/<peer>-<corpus>.json and .time).
if [ "${PEERS:-1}" != 0 ]; then
  (cd "$PEERS_DIR" && RUNS=$RUNS ./run-all.sh)
fi

# The same peer benches timed in process CPU time (bench/cpuclock.js), to
# compare with our resources/cpu-s when the machine is busy.
for peer in medplum fhirjs; do
  for c in examples big-transaction; do
    (cd "$PEERS_DIR" && node -r "$ROOT/bench/cpuclock.js" "bench-$peer.js" "$c" "$RUNS") > "$OUT/cpu-$peer-$c.json"
    echo "$peer $c (CPU time): $(head -c 200 "$OUT/cpu-$peer-$c.json")"
  done
done

ours after
# Parallel variants (both cores), for information.
"$OUT/validator.test" -test.run '^$' -test.bench 'Parallel$' -test.benchmem \
  -test.count 3 -test.benchtime "$BENCHTIME" > "$OUT/bench-parallel.txt"
grep -h "^Benchmark" "$OUT/bench-parallel.txt"

# Ours as a command: whole-file validation, peak RSS; time to first result.
if [ -n "$CLI" ]; then
  for c in examples.ndjson big-transaction.json; do
    /usr/bin/time -f '{"wall_s":%e,"time_maxrss_kb":%M}' -o "$OUT/cli-$c.time" \
      "$CLI" validate --format json "$CORPUS/$c" > "$OUT/cli-$c.out" 2>"$OUT/cli-$c.err" || true
    echo "cli $c: $(cat "$OUT/cli-$c.time")"
  done
  "$OUT/firstline" -n 20 -- "$CLI" validate --format json "$EXAMPLES_PKG/Patient-example.json" > "$OUT/first-result.json" || true
  echo "first result: $(cat "$OUT/first-result.json")"
else
  rm -f "$OUT"/cli-*.time "$OUT/first-result.json"
fi

# Agreement with the Java validator on fhir-test-cases (if the corpus is there).
(cd "$ROOT" && go test ./validator -count 1 -run '^TestFHIRTestCasesAgreement$' -v 2>&1 || true) \
  | grep -o 'fhir-test-cases (base validation.*' > "$OUT/agreement.txt" || true

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"
node "$ROOT/bench/report.js" "$PEERS_DIR" "$OUT" | tee "$OUT/table.md"
