// Command stockpile-bench measures Stockpile under load, against nginx
// serving the same bytes from disk, on loopback.
//
//	stockpile-bench run [flags] SCENARIO…   (run -h: the flags and scenarios)
//	stockpile-bench list
//
// Each scenario generates its fixtures, serves them with nginx (the fake
// upstream, and the baseline), starts Stockpile with nginx as its external
// connection, and measures: the warm scenarios (npm-warm, warm-pypi,
// warm-maven, warm-cargo, warm-nuget, warm-ruby) a cached metadata
// document, without and with Accept-Encoding: gzip (npm-warm: the
// abbreviated packument npm install asks for and the full one), and an
// artifact against nginx serving the same bytes (a pre-compressed copy
// through gzip_static), in alternating rounds; the cold
// ones (npm-cold-burst, cold-burst-1000, cold-10mb) a package Stockpile has
// never seen, counting upstream fetches in nginx's access log;
// big-concurrent and soak Stockpile's memory under many large downloads
// and under an install-like mix; million the warm latency and start-up
// with 1,000,000 cached versions against 1,000; cluster three replicas on
// PostgreSQL and SeaweedFS (a cold burst spread over them costs one
// upstream fetch; a replica's warm hits against the single node's on
// Badger; skipped when the engines are missing, unless
// STOCKPILE_ENGINES=require). Every run samples the
// servers' RSS and CPU from /proc; the report prints every round, the
// medians, one line per pair
//
//	packument: stockpile/nginx = 0.87 (12345 vs 14190 req/s)
//
// and each scenario's findings ("server cpu/req" in the table is the
// server's CPU time per successful request); --json FILE writes every
// number, --min-ratio R exits 1 below R, and a failed finding exits 1.
//
// The warm scenarios run both servers as deployed: Stockpile with an
// access key, a Bearer token on every request (minted through
// GetAuthorizationToken, signed with the key) and its log at info
// written to a file (one access line per request), nginx with
// access_log combined buffer=64k. -open runs them as before: Stockpile
// without access keys at log_level warn, nginx without access log.
// README.md's Benchmarks section has the commands and the last
// measurements.
//
// To measure a Stockpile that is already running, point its public:npmjs at
// the bench's nginx (fix nginx's address with --nginx-listen) and give its
// npm endpoint with --target (and --token, --pid to sample it); this works
// with the npm scenarios only:
//
//	stockpile-bench run --nginx-listen 127.0.0.1:18081 \
//	    --target http://127.0.0.1:8080/bench/npm/app/ --pid 1234 npm-warm
//
// Requirements: Debian's nginx at /usr/sbin/nginx (or --nginx PATH) and a
// stockpile binary (--stockpile, else next to this binary, else on PATH).
// Linux only (/proc). Everything is bounded (at most 1000 connections, 120 s
// a run, 10 rounds; big-concurrent 4 GiB, soak 2 h), on loopback unless
// --target names another host, stopped at the end or on SIGINT/SIGTERM,
// and removed unless --keep.
//
// The code: internal/bench runs scenarios and reports them, internal/load
// is the one load loop (and the bench's own GETs), internal/procstat the
// one process sampler, internal/stack the one starter of nginx and
// Stockpile, internal/fixture the generated packages (npm packages and
// archives from formats/formattest, shared with the format tests), internal/scenario and
// internal/million the scenarios.
package main
