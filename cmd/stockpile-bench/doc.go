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
//   - cold-10mb: a 10 MB tarball of a package Stockpile has never seen (a
//     fresh name per round: nothing cached, not even the packument) through
//     app → npm-store → nginx, against the same file straight from nginx,
//     each on a new connection, in alternating order; the median of the
//     rounds' time ratios (target ≤ 1.15). Each round also times a second
//     fresh package the way npm asks (packument first, untimed), and
//     nginx's access log proves every download through Stockpile was cold.
//   - cold-burst-1000: npm-cold-burst at 1,000 clients: exactly one
//     upstream fetch, every client's bytes right.
//   - big-concurrent: -big-clients (200) downloads at once of a -big-size
//     (1 GiB) tarball Stockpile has fetched once, streamed to disk when
//     generated; every client counts its bytes and hashes its body while
//     streaming. Stockpile's memory is sampled every 250 ms: VmRSS and its
//     parts RssAnon and RssFile (Badger maps its tables and logs, so their
//     pages count in RSS); target: VmRSS under 150
//     MiB, and the report says which part exceeds it and by how much.
//   - soak: -c clients install packages for -soak-duration (10m) as npm
//     does (packument, then tarball): mostly from 150 warm packages, a cold
//     one published every second, 1 % of requests for names or versions
//     that do not exist (404). Every answer is checked; Stockpile's memory
//     is sampled every few seconds. Findings: no error, the RSS at the end
//     of the -soak-warmup (2m), and the slopes after it. Badger maps its
//     files, so the pages of the data it writes stay in RssFile (page cache
//     the kernel can take back): the verdict is on the VmRSS slope less the
//     database's own growth (its files' blocks on disk), which must be flat
//     (≤ 1 MiB/min), and on RssAnon's slope. With --target the database
//     cannot be measured and VmRSS's slope is judged as it is.
//   - warm-pypi, warm-maven, warm-cargo, warm-nuget, warm-ruby: npm-warm
//     for each other format: nginx serves a generated package laid out as
//     the registry serves it (PyPI: a PEP 691 simple page and a wheel in
//     /packages/; Maven: maven-metadata.xml and a jar with .sha1 below
//     /maven2/; Cargo: a sparse index with config.json and the .crate its
//     dl template names; NuGet: service index, SemVer 2 registration index
//     and flat container .nupkg; RubyGems: /info/{gem} and /gems/*.gem),
//     Stockpile's connection of that format points at it (metadata TTL
//     2h: every measured request is a hit), both documents are fetched
//     once through Stockpile, then its metadata and artifact are measured
//     against nginx's (target ratio 0.8).
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
// cold-10mb, big-concurrent and soak measure with their own clients (they
// are Drivers): their rows are per download or per kind of request, and
// their verdicts are findings. --json FILE writes every number (and the
// memory series of big-concurrent and soak); --min-ratio R exits 1 when a
// ratio is below R; a failed finding of a scenario also exits 1.
//
// Examples:
//
//	go build -o bin/ ./cmd/stockpile ./cmd/stockpile-bench
//	bin/stockpile-bench run -c 16 -d 10s -rounds 3 --json bench.json npm-warm npm-cold-burst
//	bin/stockpile-bench run --min-ratio 0.8 npm-warm
//	bin/stockpile-bench run -c 16 -d 10s -rounds 3 --min-ratio 0.8 warm-pypi warm-maven warm-cargo warm-nuget warm-ruby
//	bin/stockpile-bench run -rounds 10 cold-10mb cold-burst-1000
//	bin/stockpile-bench run big-concurrent    # 200 × 1 GiB: minutes, 2 GiB of disk
//	bin/stockpile-bench run -c 16 -soak-duration 10m soak
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
// --target works with the npm scenarios (npm-*, cold-*, big-concurrent,
// soak); the warm-* scenarios need a Stockpile the bench configures.
//
// Bounds: at most 1000 connections or burst clients, 120 s per run, 30 s of
// warm-up, 10 rounds; big-concurrent at most 4 GiB and 1000 clients (30
// min a download, 40 min in all; it checks for 2 × the size of free disk
// first); soak at most 2 h; every address is loopback unless --target
// names another host explicitly. Everything started is stopped at the end
// (and on SIGINT/SIGTERM); working directories, the big fixture and
// Stockpile's data included, are removed unless --keep.
package main
