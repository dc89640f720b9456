// Command stockpile-bench measures Stockpile under load, against nginx
// serving the same bytes from disk, on loopback.
//
//	stockpile-bench run [flags] SCENARIO…
//	stockpile-bench list
//
// Scenarios:
//
//   - npm-warm: generates an npm package (a full packument of about 160 KB,
//     versions 1.0.0…1.0.N, and a real .tgz of about 300 KB for the newest
//     one), serves it with nginx, starts Stockpile with nginx as its
//     public:npmjs, fetches both documents once through Stockpile (checking
//     the bytes), then measures Stockpile's packument, nginx's packument,
//     Stockpile's tarball and nginx's tarball, in turn, round after round.
//   - npm-cold-burst: N clients (-burst, default 200) ask Stockpile at once
//     for a tarball of a package it has never seen (a fresh name per run);
//     nginx's access log tells how many times Stockpile went upstream (want
//     one) and every client's body is checked against the fixture's SHA-256.
//
// The load generator gives each of -c connections its own keep-alive client
// (no compression, whole bodies read and their length checked) and runs for
// -d after -warmup, or for -n requests. Every run samples the server's RSS
// and CPU time from /proc (nginx: master and workers) and the bench's own
// CPU, which shares the machine's cores. The report prints every round, the
// medians, and one line per pair:
//
//	packument: stockpile/nginx = 0.87 (12345 vs 14190 req/s)
//
// --json FILE writes every number; --min-ratio R exits 1 when a ratio is
// below R; a failed check of a scenario (npm-cold-burst) also exits 1.
//
// Examples:
//
//	go build -o bin/ ./cmd/stockpile ./cmd/stockpile-bench
//	bin/stockpile-bench run -c 16 -d 10s -rounds 3 --json bench.json npm-warm npm-cold-burst
//	bin/stockpile-bench run --min-ratio 0.8 npm-warm
//
// To measure a Stockpile that is already running, point its public:npmjs at
// the bench's nginx (fix nginx's address with --nginx-listen) and give its
// npm endpoint with --target (and --token, --pid to sample it):
//
//	stockpile-bench run --nginx-listen 127.0.0.1:18081 \
//	    --target http://127.0.0.1:8080/bench/npm/app/ --pid 1234 npm-warm
//
// Requirements: Debian's nginx at /usr/sbin/nginx (apt-get install -y nginx,
// or --nginx PATH) and a stockpile binary (--stockpile, else next to this
// binary, else on PATH). Linux only (/proc).
//
// Bounds: at most 1000 connections or burst clients, 120 s per run, 30 s of
// warm-up, 10 rounds; every address is loopback unless --target names
// another host explicitly. Everything started is stopped at the end (and on
// SIGINT/SIGTERM); working directories are removed unless --keep.
package main
