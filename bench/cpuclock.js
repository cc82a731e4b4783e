// Preload for the peers' bench scripts: node -r bench/cpuclock.js bench-medplum.js examples 7
// Makes process.hrtime.bigint() (the clock lib.js times passes with) return the
// process's CPU time (user + system, all threads, GC included) in nanoseconds,
// so the peers' "units per second" become units per CPU-second, comparable with
// our resources/cpu-s when other work on the machine makes wall-clock rates noise.
// The peers' scripts are run unchanged.
const cpuNs = () => { const u = process.cpuUsage(); return BigInt(u.user + u.system) * 1000n; };
process.hrtime.bigint = cpuNs;
