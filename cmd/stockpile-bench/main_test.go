package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/scenario"
)

func TestParseRun(t *testing.T) {
	o, err := parseRun(strings.Fields("-c 8 -d 3s npm-warm --min-ratio 0.8 npm-cold-burst -burst 50 --json out.json"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Load.Connections != 8 || o.Load.Duration != 3*time.Second || o.MinRatio != 0.8 || o.Burst != 50 || o.JSON != "out.json" {
		t.Errorf("options %+v", o)
	}
	if len(o.Scenarios) != 2 || o.Scenarios[0] != "npm-warm" || o.Scenarios[1] != "npm-cold-burst" {
		t.Errorf("scenarios %v", o.Scenarios)
	}
	if o.Load.Warmup != 2*time.Second || o.Rounds != 3 || o.UpstreamRate != 0 {
		t.Errorf("defaults: warm-up %s, rounds %d, upstream rate %d", o.Load.Warmup, o.Rounds, o.UpstreamRate)
	}
	o, err = parseRun(strings.Fields("cold-10mb -upstream-rate 100M million -million-dir /tmp/m -million-versions 5000"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.UpstreamRate != 100<<20 || o.MillionDir != "/tmp/m" || o.MillionVersions != 5000 {
		t.Errorf("upstream rate %d, million dir %q, versions %d", o.UpstreamRate, o.MillionDir, o.MillionVersions)
	}
}

func TestParseRunRefuses(t *testing.T) {
	tests := []struct{ name, args string }{
		{"no scenario", "-c 4"},
		{"unknown scenario", "npm-hot"},
		{"twice", "npm-warm npm-warm"},
		{"too long", "-d 121s npm-warm"},
		{"too many connections", "-c 1001 npm-warm"},
		{"no connections", "-c 0 npm-warm"},
		{"too many rounds", "-rounds 11 npm-warm"},
		{"no big clients", "-big-clients 0 big-concurrent"},
		{"too much warm-up", "-warmup 31s npm-warm"},
		{"too many requests", "-n 10000001 npm-warm"},
		{"remote nginx", "--nginx-listen 0.0.0.0:8080 npm-warm"},
		{"token without target", "--token t npm-warm"},
		{"pid without target", "--pid 1 npm-warm"},
		{"target and stockpile", "--target http://127.0.0.1:8080/bench/npm/app/ --stockpile ./stockpile npm-warm"},
		{"target not a URL", "--target 127.0.0.1:8080 npm-warm"},
		{"negative ratio", "--min-ratio -1 npm-warm"},
		{"crawling upstream", "-upstream-rate 1K cold-10mb"},
		{"negative million", "-million-versions -5 million"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseRun(strings.Fields(tc.args), io.Discard); err == nil {
				t.Errorf("parseRun(%q) accepted it", tc.args)
			}
		})
	}
	// A remote target is allowed when named explicitly.
	if _, err := parseRun(strings.Fields("--target https://stockpile.example.com/acme/npm/app/ --token t npm-warm"), io.Discard); err != nil {
		t.Errorf("explicit remote target refused: %v", err)
	}
}

// The scenarios check their own flags before they start anything.
func TestScenarioFlagsRefused(t *testing.T) {
	for _, args := range []string{
		"-burst 1001 npm-cold-burst",
		"-big-size 1KiB big-concurrent",
		"-soak-duration 3h soak",
		"-soak-duration 10s -soak-warmup 10s soak",
	} {
		t.Run(args, func(t *testing.T) {
			o, err := parseRun(strings.Fields(args), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.Log = slog.New(slog.DiscardHandler)
			s := newScenarios()[o.Scenarios[0]](o.Env)
			if err := s.Setup(context.Background()); err == nil {
				t.Errorf("%s set up", args)
			}
			if err := s.Teardown(); err != nil {
				t.Errorf("teardown: %v", err)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "4MiB": 4 << 20, "64k": 64 << 10, "123": 123, "2 GB": 2 << 30, "10M": 10 << 20} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "GiB", "1.5GiB", "0", "99999999999999GiB"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRunOptionsNewFlags(t *testing.T) {
	o, err := parseRun([]string{"-big-size", "8MiB", "-big-clients", "4", "-soak-duration", "30s", "-soak-warmup", "5s", "big-concurrent", "soak", "warm-pypi"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.BigSize != 8<<20 || o.BigClients != 4 || o.SoakDuration != 30*time.Second || o.SoakWarmup != 5*time.Second || len(o.Scenarios) != 3 {
		t.Errorf("%+v", o)
	}
	o, err = parseRun([]string{"soak"}, io.Discard)
	if err != nil || o.BigSize != scenario.DefaultBigSize || o.BigClients != scenario.DefaultBigClients || o.SoakDuration != scenario.DefaultSoakDuration {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, name := range []string{"cold-10mb", "cold-burst-1000", "big-concurrent", "soak", "warm-pypi", "warm-maven", "warm-cargo", "warm-nuget", "warm-ruby", "npm-warm", "npm-cold-burst"} {
		if newScenarios()[name] == nil {
			t.Errorf("scenario %s is not listed", name)
		}
	}
}
