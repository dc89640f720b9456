package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs a command line in-process and returns its exit status,
// stdout and stderr as the process would.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out, errb bytes.Buffer
	code := exitCode(run(args, getenv, &out, &errb), &errb)
	return code, out.String(), errb.String()
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string // in stdout
		wantErr    string // in stderr
		wantNotOut string
	}{
		{"--help lists the commands", []string{"--help"}, 0, "Server commands:", "", ""},
		{"-h", []string{"-h"}, 0, "Client commands:", "", ""},
		{"help", []string{"help"}, 0, "rotate-token-key", "", ""},
		{"no command prints the help", nil, 0, "Use \"stockpile [command] --help\"", "", ""},
		{"help of a command", []string{"help", "fsck"}, 0, "rehash every blob", "", ""},
		{"help of a subcommand", []string{"help", "token", "create"}, 0, "--repositories", "", ""},
		{"-h on a subcommand", []string{"token", "revoke", "-h"}, 0, "--name", "", ""},
		{"--help on serve", []string{"serve", "--help"}, 0, "--data-dir", "", ""},
		{"completion for bash", []string{"completion", "bash"}, 0, "bash completion", "", ""},
		{"help warm", []string{"help", "warm"}, 0, "Usage:\n  stockpile warm --domain D --repository R FILE...", "", ""},
		{"warm -h", []string{"warm", "-h"}, 0, "--jobs", "", ""},
		{"login --help lists the tools", []string{"login", "--help"}, 0, "yarn-berry", "", ""},
		{"help export", []string{"help", "export"}, 0, "--lockfile", "", ""},
		{"import -h", []string{"import", "-h"}, 0, "Usage:\n  stockpile import", "", ""},
		{"connect -h lists the public repositories", []string{"connect", "-h"}, 0, "public:crates-io", "", ""},
		{"warm without a lockfile", []string{"warm", "--domain", "acme", "--repository", "app"}, 2, "", "give at least one lockfile", ""},
		{"an unknown flag of warm", []string{"warm", "--fast", "x.lock"}, 2, "", "unknown flag: --fast", ""},
		{"import without a file", []string{"import"}, 2, "", "give one bundle FILE", ""},
		{"export without -o", []string{"export", "--domain", "acme"}, 2, "", "--domain and -o are required", ""},
		{"an unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`, ""},
		{"a misspelt command suggests", []string{"serv"}, 2, "", "Did you mean this?", ""},
		{"an unknown flag", []string{"serve", "--nope"}, 2, "", "unknown flag: --nope", ""},
		{"an unknown flag says where to look", []string{"token", "create", "--nope"}, 2, "", "Run 'stockpile token create --help'", ""},
		{"a flag without its value", []string{"serve", "--config"}, 2, "", "flag needs an argument: --config", ""},
		{"a bad duration", []string{"token", "create", "--duration", "soon"}, 2, "", `invalid argument "soon"`, ""},
		{"an argument where none is taken", []string{"check-config", "extra"}, 2, "", `takes no arguments, got "extra"`, ""},
		{"a group without its subcommand", []string{"token"}, 2, "", "needs a subcommand", ""},
		{"an unknown subcommand", []string{"token", "burn"}, 2, "", `unknown subcommand "burn"`, ""},
		{"a missing required flag", []string{"token", "list"}, 2, "", "--domain is required", ""},
		{"a failure that is not a usage error", []string{"check-config", "--config", "/nonexistent/stockpile.yaml"}, 1, "", "stockpile:", "configuration is valid"},
		{"check-config", []string{"check-config"}, 0, "configuration is valid", "", ""},
		{"version", []string{"version"}, 0, "go: go1.", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if tt.wantNotOut != "" && strings.Contains(out, tt.wantNotOut) {
				t.Errorf("stdout has %q:\n%s", tt.wantNotOut, out)
			}
		})
	}
}

func TestVersionText(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"a release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-06T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			"stockpile v1.2.3\ncommit: abc123 (2026-12-06T10:00:00Z)\ngo: go1.26.8\n"},
		{"a modified tree", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			"stockpile (devel)\ncommit: abc123+dirty\ngo: go1.26.8\n"},
		{"no VCS information", debug.BuildInfo{GoVersion: "go1.26.8"}, "stockpile (devel)\ncommit: unknown\ngo: go1.26.8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionText(&tt.bi); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
