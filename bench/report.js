// Markdown table of one bench/run.sh run: ours against the peers, same files.
// usage: node bench/report.js PEERS_DIR OUT
const fs = require('fs'), path = require('path');
const [peersDir, out] = process.argv.slice(2);
const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return null; } };
// /usr/bin/time -o files start with "Command exited with non-zero status N" when the command failed: the JSON is the last line.
const json = (f) => { const s = read(f); if (!s) return null; const lines = s.trim().split('\n'); return JSON.parse(lines[lines.length - 1]); };
const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (n, d = 0) => n == null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mb = (kb) => kb == null ? '–' : fmt(kb / 1024) + ' MB';

const env = Object.fromEntries((read(path.join(out, 'env.txt')) || '').trim().split('\n').filter(Boolean).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

// go test -bench lines: name-P  N  v unit  v unit ...
function goBench(file) {
  const byName = {};
  for (const line of (read(file) || '').split('\n')) {
    const m = line.match(/^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$/);
    if (!m) continue;
    const f = m[3].trim().split(/\s+/), vals = {};
    for (let i = 0; i + 1 < f.length; i += 2) vals[f[i + 1]] = +f[i];
    (byName[m[1]] = byName[m[1]] || []).push(vals);
  }
  return byName;
}
const stat = (samples, unit) => samples && samples.length ? median(samples.map(s => s[unit])) : null;

const ours = { ...goBench(path.join(out, 'bench-Examples.txt')), ...goBench(path.join(out, 'bench-BigTransaction.txt')), ...goBench(path.join(out, 'bench-parallel.txt')) };
const ex = ours.BenchmarkValidateExamples, bt = ours.BenchmarkValidateBigTransaction;
// bench-*.time hold one line per process (before and after the peers): keep the highest peak RSS.
const maxRSS = (f) => { const s = read(f); if (!s) return null; const v = s.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)); return v.length ? { time_maxrss_kb: Math.max(...v.map(x => x.time_maxrss_kb)) } : null; };
const exTime = maxRSS(path.join(out, 'bench-Examples.time')), btTime = maxRSS(path.join(out, 'bench-BigTransaction.time'));
const rows = [{
  name: 'sandkasse (Go, sequential, 1 goroutine)',
  ex: stat(ex, 'resources/s'), bt: stat(bt, 'entries/s'),
  rss: Math.max(exTime ? exTime.time_maxrss_kb : 0, btTime ? btTime.time_maxrss_kb : 0) || null,
  invalid: stat(ex, 'invalid/pass'),
}];
const peers = [['medplum', '@medplum/core 4.5.2 validateResource'], ['fhirjs', 'fhir 4.12.0 (FHIR.js) validate'], ['fhirpath', 'fhirpath 5.2.2, 11 invariants only']];
for (const [id, name] of peers) {
  const e = json(path.join(peersDir, 'results', id + '-examples.json')), b = json(path.join(peersDir, 'results', id + '-big-transaction.json'));
  const et = json(path.join(peersDir, 'results', id + '-examples.time')), bt2 = json(path.join(peersDir, 'results', id + '-big-transaction.time'));
  if (!e && !b) continue;
  rows.push({ name, id, ex: e && e.median_units_per_s, bt: b && b.median_units_per_s,
    rss: Math.max(et ? et.time_maxrss_kb : 0, bt2 ? bt2.time_maxrss_kb : 0) || null,
    invalid: e && e.summary ? e.summary.judged_invalid : null });
}
const L = [];
L.push(`Run of ${env.date || '?'} on ${env.cpus || '?'} cores (${env.cpu || '?'}), ${env.go || ''}, node ${env.node || ''}, sandkasse ${env.commit || '?'}; load average ${env.load_start || '?'} at start, ${env.load_end || '?'} at end.`);
L.push('');
L.push('| validator | examples: resources/s | big transaction: entries/s | peak RSS | examples judged invalid (of 706) | ours ÷ peer (examples / transaction) |');
L.push('|---|---:|---:|---:|---:|---:|');
const us = rows[0];
for (const r of rows) {
  const ratio = r === us ? '' : `${fmt(us.ex / r.ex, 1)}× / ${fmt(us.bt / r.bt, 1)}×`;
  L.push(`| ${r.name} | ${fmt(r.ex)} | ${fmt(r.bt)} | ${mb(r.rss)} | ${fmt(r.invalid)} | ${ratio} |`);
}
// Throughput per CPU-second: robust to other work on the machine.
const cpuRows = [{ name: us.name, ex: stat(ex, 'resources/cpu-s'), bt: stat(bt, 'entries/cpu-s') }];
for (const [id, name] of peers.slice(0, 2)) {
  const e = json(path.join(out, `cpu-${id}-examples.json`)), b = json(path.join(out, `cpu-${id}-big-transaction.json`));
  if (e || b) cpuRows.push({ name, id, ex: e && e.median_units_per_s, bt: b && b.median_units_per_s });
}
if (cpuRows.length > 1 && cpuRows[0].ex) {
  L.push('');
  L.push('Per CPU-second (process user + system time, all threads and GC included; peers timed with bench/cpuclock.js), less sensitive to other load on the machine:');
  L.push('');
  L.push('| validator | examples: resources/cpu-s | big transaction: entries/cpu-s | ours ÷ peer (examples / transaction) |');
  L.push('|---|---:|---:|---:|');
  for (const r of cpuRows) L.push(`| ${r.name} | ${fmt(r.ex)} | ${fmt(r.bt)} | ${r === cpuRows[0] ? '' : `${fmt(cpuRows[0].ex / r.ex, 1)}× / ${fmt(cpuRows[0].bt / r.bt, 1)}×`} |`);
}
L.push('');
L.push('Throughput is the median over the samples (peers: RUNS timed passes after a warm-up in one process; ours: go test -bench samples after a warm-up pass, taken before and after the peers). Peak RSS is of the whole process (`/usr/bin/time -f %M`): for ours, the benchmark binary running one corpus.');
const pe = ours.BenchmarkValidateExamplesParallel, pb = ours.BenchmarkValidateBigTransactionParallel;
if (pe || pb) {
  L.push('');
  L.push(`Parallel (GOMAXPROCS=${env.cpus || '?'} goroutines, one shared Validator; not used in the ratios): examples ${fmt(stat(pe, 'resources/s'))} resources/s, big transaction ${fmt(stat(pb, 'entries/s'))} entries/s.`);
}
L.push('');
L.push(`Allocation, sequential: ${fmt(stat(ex, 'B/op') / 1e6, 1)} MB and ${fmt(stat(ex, 'allocs/op'))} allocations per pass over the examples; ${fmt(stat(bt, 'B/op') / 1e6, 1)} MB per big transaction.`);

const cliEx = json(path.join(out, 'cli-examples.ndjson.time')), cliBt = json(path.join(out, 'cli-big-transaction.json.time')), first = json(path.join(out, 'first-result.json'));
L.push('');
L.push('| command (sandkasse CLI) | wall | peak RSS | target |');
L.push('|---|---:|---:|---|');
if (cliEx || cliBt || first) {
  if (cliEx) L.push(`| \`sandkasse validate --format json examples.ndjson\` (706 resources) | ${fmt(cliEx.wall_s, 2)} s | ${mb(cliEx.time_maxrss_kb)} | < 150 MB |`);
  if (cliBt) L.push(`| \`sandkasse validate --format json big-transaction.json\` | ${fmt(cliBt.wall_s, 2)} s | ${mb(cliBt.time_maxrss_kb)} | < 150 MB |`);
  if (first) L.push(`| time to first result: \`sandkasse validate --format json Patient-example.json\`, start → first line (median of ${first.runs}; min ${fmt(first.min_ms)}, max ${fmt(first.max_ms)} ms) | ${fmt(first.median_ms)} ms | | ≤ 300 ms |`);
} else {
  L.push('| (the CLI did not build in this run) | | | |');
}
const agr = (read(path.join(out, 'agreement.txt')) || '').trim();
if (agr) { L.push(''); L.push('Agreement with the Java reference validator: ' + agr + '.'); }
L.push('');
L.push(`Targets: ≥ 10× @medplum/core and ≥ 2× FHIR.js in resources/s; peak memory < 150 MB; first result within 300 ms.`);
const med = rows.find(r => r.id === 'medplum'), fj = rows.find(r => r.id === 'fhirjs');
const cm = cpuRows.find(r => r.id === 'medplum'), cf = cpuRows.find(r => r.id === 'fhirjs');
if (cm && cf && cpuRows[0].ex) L.push(`Per CPU-second: ${fmt(cpuRows[0].ex / cm.ex, 1)}× medplum, ${fmt(cpuRows[0].ex / cf.ex, 1)}× FHIR.js on the examples.`);
if (med && fj) L.push(`This run: ${fmt(us.ex / med.ex, 1)}× medplum (target 10×: ${us.ex / med.ex >= 10 ? 'met' : 'NOT met'}), ${fmt(us.ex / fj.ex, 1)}× FHIR.js (target 2×: ${us.ex / fj.ex >= 2 ? 'met' : 'NOT met'}) on the examples.`);
console.log(L.join('\n'));
