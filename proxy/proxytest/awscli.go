package proxytest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// AWSCLI drives the real `aws codeartifact` CLI against a test server.
type AWSCLI struct {
	t        testing.TB
	bin      string
	endpoint string
	env      []string
	secret   string
}

// NewAWSCLI returns the CLI bound to in, signing with the given access key
// (one of the server's auth.access_keys, or any pair on an open server). It
// skips or fails like RequireTool when the CLI is missing.
func NewAWSCLI(t testing.TB, in *Instance, keyID, secret string) *AWSCLI {
	t.Helper()
	bin := RequireTool(t, "aws")
	home := t.TempDir()
	return &AWSCLI{t: t, bin: bin, endpoint: in.URL, secret: secret, env: []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + keyID, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}}
}

// WithEnv returns a copy of the CLI with extra environment variables.
func (a *AWSCLI) WithEnv(kv ...string) *AWSCLI {
	c := *a
	c.env = append(append([]string{}, a.env...), kv...)
	return &c
}

// Env is the environment the CLI runs with (without the secret).
func (a *AWSCLI) Env() []string { return append([]string{}, a.env...) }

// Bin is the path of the aws executable.
func (a *AWSCLI) Bin() string { return a.bin }

// Run calls `aws codeartifact ARGS… --endpoint-url … --output json` signed
// with secret and returns stdout, or an error carrying stderr.
func (a *AWSCLI) Run(secret string, args ...string) (string, error) {
	a.t.Helper()
	full := append([]string{"codeartifact"}, args...)
	full = append(full, "--endpoint-url", a.endpoint, "--output", "json")
	cmd := exec.Command(a.bin, full...)
	cmd.Env = append(append([]string{}, a.env...), "AWS_SECRET_ACCESS_KEY="+secret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &CLIError{Err: err, Stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// CLIError is a failed CLI call.
type CLIError struct {
	Err    error
	Stderr string
}

func (e *CLIError) Error() string { return e.Err.Error() + ": " + e.Stderr }

// OK runs a call that must succeed and decodes its JSON output.
func (a *AWSCLI) OK(args ...string) map[string]any {
	a.t.Helper()
	out, err := a.Run(a.secret, args...)
	if err != nil {
		a.t.Fatalf("aws codeartifact %s: %v", strings.Join(args, " "), err)
	}
	var v map[string]any
	if strings.TrimSpace(out) == "" {
		return v
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		a.t.Fatalf("aws codeartifact %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// Fails runs a call that must fail with the given error type.
func (a *AWSCLI) Fails(wantType string, args ...string) {
	a.t.Helper()
	_, err := a.Run(a.secret, args...)
	if err == nil {
		a.t.Fatalf("aws codeartifact %s succeeded, want %s", strings.Join(args, " "), wantType)
	}
	if !strings.Contains(err.Error(), "("+wantType+")") {
		a.t.Fatalf("aws codeartifact %s: want %s, got %v", strings.Join(args, " "), wantType, err)
	}
}

// Pick walks decoded JSON: Pick(v, "repository", "upstreams", 0, "repositoryName").
func Pick(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// CLIPackage names a package for the CLI's package commands.
type CLIPackage struct {
	Domain, Format, Namespace, Package string
}

// Args returns the options naming p in repository repo, then extra.
func (p CLIPackage) Args(repo string, extra ...string) []string {
	args := []string{"--domain", p.Domain, "--repository", repo, "--format", p.Format}
	if p.Namespace != "" {
		args = append(args, "--namespace", p.Namespace)
	}
	return append(append(args, "--package", p.Package), extra...)
}

// SetStatus moves version of p in repository repo to status target with
// update-package-versions-status, and fails t unless the CLI reports it
// moved.
func (a *AWSCLI) SetStatus(t testing.TB, p CLIPackage, repo, version, target string) {
	t.Helper()
	r := a.OK(append([]string{"update-package-versions-status"}, p.Args(repo, "--versions", version, "--target-status", target)...)...)
	if got := Pick(r, "successfulVersions", version, "status"); got != target {
		t.Fatalf("update-package-versions-status %s → %s: %v", version, target, r)
	}
}

// BlockExternal creates package group pattern in domain and blocks its
// external versions (EXTERNAL_UPSTREAM=BLOCK), failing t unless the CLI
// reports both.
func (a *AWSCLI) BlockExternal(t testing.TB, domain, pattern string) {
	t.Helper()
	g := a.OK("create-package-group", "--domain", domain, "--package-group", pattern)
	if Pick(g, "packageGroup", "pattern") != pattern {
		t.Fatalf("create-package-group: %v", g)
	}
	r := a.OK("update-package-group-origin-configuration", "--domain", domain, "--package-group", pattern, "--restrictions", "EXTERNAL_UPSTREAM=BLOCK")
	if Pick(r, "packageGroup", "originConfiguration", "restrictions", "EXTERNAL_UPSTREAM", "mode") != "BLOCK" {
		t.Fatalf("update-package-group-origin-configuration: %v", r)
	}
}
