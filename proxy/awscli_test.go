package proxy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

type awsCLI struct {
	t        *testing.T
	bin      string
	endpoint string
	env      []string
}

// run calls `aws codeartifact ARGS… --endpoint-url …` and returns stdout, or
// the error text when the call fails.
func (a *awsCLI) run(secret string, args ...string) (string, error) {
	a.t.Helper()
	full := append([]string{"codeartifact"}, args...)
	full = append(full, "--endpoint-url", a.endpoint, "--output", "json")
	cmd := exec.Command(a.bin, full...)
	cmd.Env = append(a.env, "AWS_SECRET_ACCESS_KEY="+secret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &cliError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

func (a *awsCLI) ok(args ...string) map[string]any {
	a.t.Helper()
	out, err := a.run("stockpile-secret", args...)
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

func (a *awsCLI) fails(wantType string, args ...string) {
	a.t.Helper()
	_, err := a.run("stockpile-secret", args...)
	if err == nil {
		a.t.Fatalf("aws codeartifact %s succeeded, want %s", strings.Join(args, " "), wantType)
	}
	if !strings.Contains(err.Error(), "("+wantType+")") {
		a.t.Fatalf("aws codeartifact %s: want %s, got %v", strings.Join(args, " "), wantType, err)
	}
}

// pick walks a decoded JSON value: pick(v, "repository", "upstreams", 0, "repositoryName").
func pick(v any, path ...any) any {
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

func TestAWSCLIControlPlane(t *testing.T) {
	bin := proxytest.RequireTool(t, "aws")
	home := t.TempDir()
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIASTOCKPILETEST", Secret: "stockpile-secret"}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg})
	a := &awsCLI{t: t, bin: bin, endpoint: in.URL, env: []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=AKIASTOCKPILETEST", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}}

	d := a.ok("create-domain", "--domain", "acme")
	if pick(d, "domain", "name") != "acme" || pick(d, "domain", "status") != "Active" || pick(d, "domain", "arn") != "arn:aws:codeartifact:stockpile:000000000000:domain/acme" {
		t.Fatalf("create-domain: %v", d)
	}
	a.fails("ConflictException", "create-domain", "--domain", "acme")
	a.fails("ValidationException", "create-domain", "--domain", "Bad_Name")

	a.ok("create-repository", "--domain", "acme", "--repository", "npm-store", "--description", "public npm")
	a.ok("create-repository", "--domain", "acme", "--repository", "team", "--upstreams", "repositoryName=npm-store")
	r := a.ok("create-repository", "--domain", "acme", "--repository", "app", "--upstreams", "repositoryName=team")
	if diff := cmp.Diff([]any{map[string]any{"repositoryName": "team"}}, pick(r, "repository", "upstreams")); diff != "" {
		t.Fatalf("create-repository upstreams: %s", diff)
	}
	a.fails("ResourceNotFoundException", "create-repository", "--domain", "acme", "--repository", "x2", "--upstreams", "repositoryName=ghost")

	r = a.ok("associate-external-connection", "--domain", "acme", "--repository", "npm-store", "--external-connection", "public:npmjs")
	want := []any{map[string]any{"externalConnectionName": "public:npmjs", "packageFormat": "npm", "status": "Available"}}
	if diff := cmp.Diff(want, pick(r, "repository", "externalConnections")); diff != "" {
		t.Fatalf("associate-external-connection (-want +got):\n%s", diff)
	}
	a.fails("ServiceQuotaExceededException", "associate-external-connection", "--domain", "acme", "--repository", "npm-store", "--external-connection", "public:pypi")
	a.fails("ValidationException", "associate-external-connection", "--domain", "acme", "--repository", "team", "--external-connection", "public:nowhere")

	r = a.ok("describe-repository", "--domain", "acme", "--repository", "npm-store")
	if pick(r, "repository", "description") != "public npm" || pick(r, "repository", "domainName") != "acme" ||
		pick(r, "repository", "arn") != "arn:aws:codeartifact:stockpile:000000000000:repository/acme/npm-store" {
		t.Fatalf("describe-repository: %v", r)
	}

	l := a.ok("list-repositories-in-domain", "--domain", "acme")
	var names []string
	for _, x := range pick(l, "repositories").([]any) {
		names = append(names, pick(x, "name").(string))
		if pick(x, "upstreams") != nil {
			t.Errorf("a repository summary has no upstreams member: %v", x)
		}
	}
	if diff := cmp.Diff([]string{"app", "npm-store", "team"}, names); diff != "" {
		t.Fatalf("list-repositories-in-domain: %s", diff)
	}
	l = a.ok("list-repositories", "--repository-prefix", "te")
	if n := len(pick(l, "repositories").([]any)); n != 1 {
		t.Fatalf("list-repositories --repository-prefix te: %v", l)
	}
	if n := len(pick(a.ok("list-domains"), "domains").([]any)); n != 1 {
		t.Fatalf("list-domains: %d domains", n)
	}

	e := a.ok("get-repository-endpoint", "--domain", "acme", "--repository", "app", "--format", "npm")
	if e["repositoryEndpoint"] != in.URL+"/acme/npm/app/" {
		t.Fatalf("get-repository-endpoint: %v", e)
	}

	tok := a.ok("get-authorization-token", "--domain", "acme", "--duration-seconds", "900")
	claims, err := in.Server.Issuer().Verify(tok["authorizationToken"].(string))
	if err != nil || claims.Domain != "acme" || claims.Principal != "AKIASTOCKPILETEST" {
		t.Fatalf("get-authorization-token: %v %+v %v", tok, claims, err)
	}
	a.fails("ValidationException", "get-authorization-token", "--domain", "acme", "--duration-seconds", "60")
	a.fails("ResourceNotFoundException", "get-authorization-token", "--domain", "nowhere")

	// A cycle is refused, and the graph is unchanged.
	a.fails("ValidationException", "update-repository", "--domain", "acme", "--repository", "npm-store", "--upstreams", "repositoryName=app")
	r = a.ok("update-repository", "--domain", "acme", "--repository", "app", "--description", "builds")
	if pick(r, "repository", "description") != "builds" || pick(r, "repository", "upstreams", 0, "repositoryName") != "team" {
		t.Fatalf("update-repository: %v", r)
	}
	a.fails("ConflictException", "delete-repository", "--domain", "acme", "--repository", "team")
	a.fails("ConflictException", "delete-domain", "--domain", "acme")

	// Credentials: a wrong secret and an unknown key are refused.
	if _, err := a.run("wrong-secret", "list-domains"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: %v", err)
	}
	bad := *a
	bad.env = append(append([]string{}, a.env...), "AWS_ACCESS_KEY_ID=AKIAUNKNOWN")
	if _, err := bad.run("stockpile-secret", "list-domains"); err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Fatalf("unknown key: %v", err)
	}

	r = a.ok("disassociate-external-connection", "--domain", "acme", "--repository", "npm-store", "--external-connection", "public:npmjs")
	if diff := cmp.Diff([]any{}, pick(r, "repository", "externalConnections")); diff != "" {
		t.Fatalf("disassociate-external-connection: %s", diff)
	}

	// aws codeartifact login --tool npm writes an npm config for the endpoint.
	proxytest.RequireTool(t, "npm")
	npmrc := filepath.Join(home, "npmrc")
	cmd := exec.Command(bin, "codeartifact", "login", "--tool", "npm", "--domain", "acme", "--repository", "app", "--endpoint-url", in.URL)
	cmd.Env = append(append([]string{}, a.env...), "AWS_SECRET_ACCESS_KEY=stockpile-secret", "NPM_CONFIG_USERCONFIG="+npmrc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws codeartifact login --tool npm: %v\n%s", err, out)
	}
	rc, err := os.ReadFile(npmrc)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(in.URL, "http://")
	if !strings.Contains(string(rc), "registry="+in.URL+"/acme/npm/app/") || !strings.Contains(string(rc), "//"+host+"/acme/npm/app/:_authToken=") {
		t.Fatalf("npm config after login:\n%s", rc)
	}

	// Clean up in the only order allowed.
	for _, repo := range []string{"app", "team", "npm-store"} {
		a.ok("delete-repository", "--domain", "acme", "--repository", repo)
	}
	if d := a.ok("delete-domain", "--domain", "acme"); pick(d, "domain", "name") != "acme" {
		t.Fatalf("delete-domain: %v", d)
	}
}
