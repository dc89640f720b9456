// Command stockpile-bench measures Stockpile under load, against nginx
// serving the same bytes from disk, on loopback.
//
//	stockpile-bench run [flags] SCENARIO…   (run -h: the flags and scenarios)
//	stockpile-bench list
//
// Each scenario generates its fixtures, serves them with nginx (the fake
// upstream, and the baseline), starts Stockpile with nginx as its external
// connection, measures in alternating rounds while sampling the servers'
// RSS and CPU from /proc, and judges what it measures (ratios against
// nginx, upstream fetches, right bodies, memory). The report prints every
// round, the medians and each scenario's findings; --json FILE writes every
// number, --min-ratio R exits 1 below R, and a failed finding exits 1.
// --target (with --token, --pid) measures a running Stockpile whose
// public:npmjs is the bench's nginx (--nginx-listen), npm scenarios only.
// README.md's Benchmarks section tells what each scenario judges, and the
// last measurements.
//
// Requirements: Debian's nginx (--nginx) and a stockpile binary
// (--stockpile, else next to this binary, else on PATH); Linux (/proc).
// Everything is bounded (1000 connections, 120 s a run, 10 rounds;
// big-concurrent 4 GiB, soak 2 h), on loopback unless --target names
// another host, stopped at the end or on SIGINT/SIGTERM, and removed
// unless --keep.
//
// The code: internal/bench runs scenarios and reports them, internal/load
// is the one load loop, internal/procstat the process sampler,
// internal/stack the starter of nginx and Stockpile, internal/fixture the
// generated packages, internal/scenario and internal/million the scenarios.
package main
