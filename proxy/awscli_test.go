package proxy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func TestAWSCLIControlPlane(t *testing.T) {
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIASTOCKPILETEST", Secret: "stockpile-secret"}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg})
	a := proxytest.NewAWSCLI(t, in, "AKIASTOCKPILETEST", "stockpile-secret")
	bin, home := a.Bin(), t.TempDir()

	d := a.OK("create-domain", "--domain", "acme")
	if proxytest.Pick(d, "domain", "name") != "acme" || proxytest.Pick(d, "domain", "status") != "Active" || proxytest.Pick(d, "domain", "arn") != "arn:aws:codeartifact:stockpile:000000000000:domain/acme" {
		t.Fatalf("create-domain: %v", d)
	}
	a.Fails("ConflictException", "create-domain", "--domain", "acme")
	a.Fails("ValidationException", "create-domain", "--domain", "Bad_Name")

	a.OK("create-repository", "--domain", "acme", "--repository", "npm-store", "--description", "public npm")
	a.OK("create-repository", "--domain", "acme", "--repository", "team", "--upstreams", "repositoryName=npm-store")
	r := a.OK("create-repository", "--domain", "acme", "--repository", "app", "--upstreams", "repositoryName=team")
	if diff := cmp.Diff([]any{map[string]any{"repositoryName": "team"}}, proxytest.Pick(r, "repository", "upstreams")); diff != "" {
		t.Fatalf("create-repository upstreams: %s", diff)
	}
	a.Fails("ResourceNotFoundException", "create-repository", "--domain", "acme", "--repository", "x2", "--upstreams", "repositoryName=ghost")

	r = a.OK("associate-external-connection", "--domain", "acme", "--repository", "npm-store", "--external-connection", "public:npmjs")
	want := []any{map[string]any{"externalConnectionName": "public:npmjs", "packageFormat": "npm", "status": "Available"}}
	if diff := cmp.Diff(want, proxytest.Pick(r, "repository", "externalConnections")); diff != "" {
		t.Fatalf("associate-external-connection (-want +got):\n%s", diff)
	}
	a.Fails("ServiceQuotaExceededException", "associate-external-connection", "--domain", "acme", "--repository", "npm-store", "--external-connection", "public:pypi")
	a.Fails("ValidationException", "associate-external-connection", "--domain", "acme", "--repository", "team", "--external-connection", "public:nowhere")

	r = a.OK("describe-repository", "--domain", "acme", "--repository", "npm-store")
	if proxytest.Pick(r, "repository", "description") != "public npm" || proxytest.Pick(r, "repository", "domainName") != "acme" ||
		proxytest.Pick(r, "repository", "arn") != "arn:aws:codeartifact:stockpile:000000000000:repository/acme/npm-store" {
		t.Fatalf("describe-repository: %v", r)
	}

	l := a.OK("list-repositories-in-domain", "--domain", "acme")
	var names []string
	for _, x := range proxytest.Pick(l, "repositories").([]any) {
		names = append(names, proxytest.Pick(x, "name").(string))
		if proxytest.Pick(x, "upstreams") != nil {
			t.Errorf("a repository summary has no upstreams member: %v", x)
		}
	}
	if diff := cmp.Diff([]string{"app", "npm-store", "team"}, names); diff != "" {
		t.Fatalf("list-repositories-in-domain: %s", diff)
	}
	l = a.OK("list-repositories", "--repository-prefix", "te")
	if n := len(proxytest.Pick(l, "repositories").([]any)); n != 1 {
		t.Fatalf("list-repositories --repository-prefix te: %v", l)
	}
	if n := len(proxytest.Pick(a.OK("list-domains"), "domains").([]any)); n != 1 {
		t.Fatalf("list-domains: %d domains", n)
	}

	e := a.OK("get-repository-endpoint", "--domain", "acme", "--repository", "app", "--format", "npm")
	if e["repositoryEndpoint"] != in.URL+"/acme/npm/app/" {
		t.Fatalf("get-repository-endpoint: %v", e)
	}

	tok := a.OK("get-authorization-token", "--domain", "acme", "--duration-seconds", "900")
	claims, err := in.Server.Issuer().Verify(tok["authorizationToken"].(string))
	if err != nil || claims.Domain != "acme" || claims.KeyID != "AKIASTOCKPILETEST" || claims.Principal != "arn:aws:iam::000000000000:user/AKIASTOCKPILETEST" {
		t.Fatalf("get-authorization-token: %v %+v %v", tok, claims, err)
	}
	a.Fails("ValidationException", "get-authorization-token", "--domain", "acme", "--duration-seconds", "60")
	a.Fails("ResourceNotFoundException", "get-authorization-token", "--domain", "nowhere")

	// A cycle is refused, and the graph is unchanged.
	a.Fails("ValidationException", "update-repository", "--domain", "acme", "--repository", "npm-store", "--upstreams", "repositoryName=app")
	r = a.OK("update-repository", "--domain", "acme", "--repository", "app", "--description", "builds")
	if proxytest.Pick(r, "repository", "description") != "builds" || proxytest.Pick(r, "repository", "upstreams", 0, "repositoryName") != "team" {
		t.Fatalf("update-repository: %v", r)
	}
	a.Fails("ConflictException", "delete-repository", "--domain", "acme", "--repository", "team")
	a.Fails("ConflictException", "delete-domain", "--domain", "acme")

	// Credentials: a wrong secret and an unknown key are refused.
	if _, err := a.Run("wrong-secret", "list-domains"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: %v", err)
	}
	bad := a.WithEnv("AWS_ACCESS_KEY_ID=AKIAUNKNOWN")
	if _, err := bad.Run("stockpile-secret", "list-domains"); err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Fatalf("unknown key: %v", err)
	}

	r = a.OK("disassociate-external-connection", "--domain", "acme", "--repository", "npm-store", "--external-connection", "public:npmjs")
	if diff := cmp.Diff([]any{}, proxytest.Pick(r, "repository", "externalConnections")); diff != "" {
		t.Fatalf("disassociate-external-connection: %s", diff)
	}

	// aws codeartifact login --tool npm writes an npm config for the endpoint.
	proxytest.RequireTool(t, "npm")
	npmrc := filepath.Join(home, "npmrc")
	cmd := exec.Command(bin, "codeartifact", "login", "--tool", "npm", "--domain", "acme", "--repository", "app", "--endpoint-url", in.URL)
	cmd.Env = append(a.Env(), "AWS_SECRET_ACCESS_KEY=stockpile-secret", "NPM_CONFIG_USERCONFIG="+npmrc)
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
		a.OK("delete-repository", "--domain", "acme", "--repository", repo)
	}
	if d := a.OK("delete-domain", "--domain", "acme"); proxytest.Pick(d, "domain", "name") != "acme" {
		t.Fatalf("delete-domain: %v", d)
	}
}
