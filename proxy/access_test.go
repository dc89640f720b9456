package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

const (
	testAccount = "111122223333"
	readerARN   = "arn:aws:iam::111122223333:user/reader"
	pubARN      = "arn:aws:iam::111122223333:role/publisher"
)

// Identity policies of the test principals, as an operator would write them.
const (
	readerPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","codeartifact:GetRepositoryEndpoint","codeartifact:Describe*"],"Resource":"*"},
		{"Effect":"Allow","Action":"sts:GetServiceBearerToken","Resource":"*"},
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:111122223333:repository/acme/app"}]}`
	publisherPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","sts:GetServiceBearerToken"],"Resource":"*"},
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":["arn:aws:codeartifact:*:*:repository/acme/app","arn:aws:codeartifact:*:*:repository/acme/internal"]},
		{"Effect":"Allow","Action":["codeartifact:PublishPackageVersion","codeartifact:PutPackageMetadata","codeartifact:DeletePackageVersions"],"Resource":"arn:aws:codeartifact:*:*:package/acme/internal/*"}]}`
)

// accessConfig has three principals (admin, reader, publisher), a key
// without a policy, and a domain acme with repositories app and internal.
func accessConfig() *proxy.Config {
	cfg := proxy.Defaults()
	cfg.Auth.Account = testAccount
	cfg.Auth.AccessKeys = []proxy.AccessKey{
		{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true},
		{ID: "AKIAREADER", Secret: "reader-secret", Principal: readerARN, Policy: readerPolicy},
		{ID: "AKIAPUB", Secret: "pub-secret", Principal: pubARN, Policy: publisherPolicy},
		{ID: "AKIANOBODY", Secret: "nobody-secret"},
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app"}, {Name: "internal"}}}}
	return &cfg
}

// auditLog collects the server's JSON log lines.
type auditLog struct{ proxytest.LogBuffer }

// audit returns the audit lines logged so far.
func (l *auditLog) audit() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

func TestAWSCLIPermissionsPolicies(t *testing.T) {
	in := proxytest.Start(t, proxytest.Options{Config: accessConfig(), OnDisk: true})
	admin := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	reader := proxytest.NewAWSCLI(t, in, "AKIAREADER", "reader-secret")
	repoARN := "arn:aws:codeartifact:stockpile:111122223333:repository/acme/app"
	domainARN := "arn:aws:codeartifact:stockpile:111122223333:domain/acme"

	// None set yet.
	admin.Fails("ResourceNotFoundException", "get-repository-permissions-policy", "--domain", "acme", "--repository", "app")
	admin.Fails("ResourceNotFoundException", "get-domain-permissions-policy", "--domain", "acme")
	admin.Fails("ResourceNotFoundException", "delete-repository-permissions-policy", "--domain", "acme", "--repository", "app")

	// A malformed document is refused, naming the problem.
	_, err := admin.Run("admin-secret", "put-repository-permissions-policy", "--domain", "acme", "--repository", "app",
		"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:stockpile:111122223333:repository/acme"}]}`)
	if err == nil || !strings.Contains(err.Error(), "(ValidationException)") || !strings.Contains(err.Error(), "Statement[0].Resource") || !strings.Contains(err.Error(), "a repository ARN has 2 segments") {
		t.Fatalf("malformed policy: %v", err)
	}
	_, err = admin.Run("admin-secret", "put-domain-permissions-policy", "--domain", "acme", "--policy-document", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Conditions":{}}]}`)
	if err == nil || !strings.Contains(err.Error(), "(ValidationException)") || !strings.Contains(err.Error(), `unknown element "Conditions"`) {
		t.Fatalf("unknown element: %v", err)
	}

	// Repository policy: put, get, stale revision, update, delete.
	denyReader := `{"Version":"2012-10-17","Statement":[{"Sid":"NoReader","Effect":"Deny","Principal":{"AWS":"` + readerARN + `"},"Action":"codeartifact:*","Resource":"*"}]}`
	put := admin.OK("put-repository-permissions-policy", "--domain", "acme", "--repository", "app", "--policy-document", denyReader)
	rev1, _ := proxytest.Pick(put, "policy", "revision").(string)
	if rev1 == "" || proxytest.Pick(put, "policy", "resourceArn") != repoARN || proxytest.Pick(put, "policy", "document") != denyReader {
		t.Fatalf("put-repository-permissions-policy: %v", put)
	}
	got := admin.OK("get-repository-permissions-policy", "--domain", "acme", "--repository", "app")
	if proxytest.Pick(got, "policy", "revision") != rev1 || proxytest.Pick(got, "policy", "document") != denyReader {
		t.Fatalf("get-repository-permissions-policy: %v", got)
	}
	// Effective on the next request: the reader's describe of app is denied.
	if _, err := reader.Run("reader-secret", "describe-repository", "--domain", "acme", "--repository", "app"); err == nil ||
		!strings.Contains(err.Error(), "(AccessDeniedException)") || !strings.Contains(err.Error(), "codeartifact:DescribeRepository") || strings.Contains(err.Error(), "NoReader") {
		t.Fatalf("reader under a deny: %v", err)
	}
	admin.Fails("ConflictException", "put-repository-permissions-policy", "--domain", "acme", "--repository", "app", "--policy-document", denyReader, "--policy-revision", "stale")
	put = admin.OK("put-repository-permissions-policy", "--domain", "acme", "--repository", "app", "--policy-document", denyReader, "--policy-revision", rev1)
	rev2, _ := proxytest.Pick(put, "policy", "revision").(string)
	if rev2 == "" || rev2 == rev1 {
		t.Fatalf("revision after update: %q (was %q)", rev2, rev1)
	}
	admin.Fails("ConflictException", "delete-repository-permissions-policy", "--domain", "acme", "--repository", "app", "--policy-revision", rev1)

	// Policies survive a restart.
	in.Restart()
	got = admin.OK("get-repository-permissions-policy", "--domain", "acme", "--repository", "app")
	if proxytest.Pick(got, "policy", "revision") != rev2 {
		t.Fatalf("after restart: %v", got)
	}
	reader.Fails("AccessDeniedException", "describe-repository", "--domain", "acme", "--repository", "app")

	del := admin.OK("delete-repository-permissions-policy", "--domain", "acme", "--repository", "app", "--policy-revision", rev2)
	if proxytest.Pick(del, "policy", "revision") != rev2 || proxytest.Pick(del, "policy", "resourceArn") != repoARN {
		t.Fatalf("delete-repository-permissions-policy: %v", del)
	}
	admin.Fails("ResourceNotFoundException", "get-repository-permissions-policy", "--domain", "acme", "--repository", "app")
	reader.OK("describe-repository", "--domain", "acme", "--repository", "app")

	// Domain policy: it decides token issuance.
	reader.OK("get-authorization-token", "--domain", "acme")
	noTokens := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"codeartifact:GetAuthorizationToken","Resource":"*","Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/read*"}}}]}`
	put = admin.OK("put-domain-permissions-policy", "--domain", "acme", "--policy-document", noTokens)
	drev, _ := proxytest.Pick(put, "policy", "revision").(string)
	if drev == "" || proxytest.Pick(put, "policy", "resourceArn") != domainARN {
		t.Fatalf("put-domain-permissions-policy: %v", put)
	}
	reader.Fails("AccessDeniedException", "get-authorization-token", "--domain", "acme")
	admin.OK("get-authorization-token", "--domain", "acme")
	if proxytest.Pick(admin.OK("get-domain-permissions-policy", "--domain", "acme"), "policy", "document") != noTokens {
		t.Fatal("get-domain-permissions-policy does not return the document")
	}
	admin.Fails("ConflictException", "put-domain-permissions-policy", "--domain", "acme", "--policy-document", noTokens, "--policy-revision", "stale")
	admin.Fails("ConflictException", "delete-domain-permissions-policy", "--domain", "acme", "--policy-revision", "stale")
	del = admin.OK("delete-domain-permissions-policy", "--domain", "acme", "--policy-revision", drev)
	if proxytest.Pick(del, "policy", "revision") != drev {
		t.Fatalf("delete-domain-permissions-policy: %v", del)
	}
	admin.Fails("ResourceNotFoundException", "get-domain-permissions-policy", "--domain", "acme")
	reader.OK("get-authorization-token", "--domain", "acme")

	// Who may manage policies: the reader may not, and a key without a
	// policy may do nothing.
	reader.Fails("AccessDeniedException", "put-repository-permissions-policy", "--domain", "acme", "--repository", "app", "--policy-document", denyReader)
	nobody := proxytest.NewAWSCLI(t, in, "AKIANOBODY", "nobody-secret")
	nobody.Fails("AccessDeniedException", "list-domains")
	nobody.Fails("AccessDeniedException", "get-authorization-token", "--domain", "acme")
}

func TestDataPlaneAuthorization(t *testing.T) {
	logs := &auditLog{}
	in := proxytest.Start(t, proxytest.Options{
		Config: accessConfig(), OnDisk: true,
		Formats: []formats.Format{npm.New(), pypi.New()},
		Log:     slog.New(slog.NewJSONHandler(logs, nil)),
	})
	do := func(key, method, path string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, in.URL+path, bytes.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+in.TokenFor("acme", key))
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	expect := func(what string, gotStatus int, body string, want int, contains ...string) {
		t.Helper()
		if gotStatus != want {
			t.Fatalf("%s: status %d, want %d: %s", what, gotStatus, want, body)
		}
		for _, c := range contains {
			if !strings.Contains(body, c) {
				t.Fatalf("%s: body %q does not contain %q", what, body, c)
			}
		}
	}

	// publisher publishes to internal, is refused on app.
	st, body := do("AKIAPUB", http.MethodPut, "/acme/npm/internal/widget", formattest.NPMPublishBody("widget", "1.0.0", nil))
	expect("publisher publishes to internal", st, body, http.StatusOK)
	st, body = do("AKIAPUB", http.MethodPut, "/acme/npm/app/widget", formattest.NPMPublishBody("widget", "1.0.1", nil))
	expect("publisher on app", st, body, http.StatusForbidden, `"error"`, "codeartifact:PublishPackageVersion", "package/acme/app/npm//widget", pubARN)
	// reader reads app (and internal through nothing: it has no right there).
	st, body = do("AKIAREADER", http.MethodGet, "/acme/npm/app/widget", nil)
	expect("reader reads app", st, body, http.StatusNotFound)
	st, body = do("AKIAREADER", http.MethodGet, "/acme/npm/internal/widget", nil)
	expect("reader reads internal", st, body, http.StatusForbidden, `"error"`, "codeartifact:ReadFromRepository", "repository/acme/internal")
	st, body = do("AKIAREADER", http.MethodPut, "/acme/npm/app/widget", formattest.NPMPublishBody("widget", "2.0.0", nil))
	expect("reader publishes", st, body, http.StatusForbidden, "codeartifact:PublishPackageVersion")
	// PyPI clients get text.
	st, body = do("AKIAREADER", http.MethodGet, "/acme/pypi/internal/simple/widget/", nil)
	expect("reader reads internal through pypi", st, body, http.StatusForbidden, "codeartifact:ReadFromRepository")
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		t.Errorf("pypi 403 body is JSON: %s", body)
	}
	// Tags are PutPackageMetadata; the reader may not move them.
	st, body = do("AKIAREADER", http.MethodPut, "/acme/npm/internal/-/package/widget/dist-tags/beta", []byte(`"1.0.0"`))
	expect("reader moves a tag", st, body, http.StatusForbidden)
	st, body = do("AKIAPUB", http.MethodPut, "/acme/npm/internal/-/package/widget/dist-tags/beta", []byte(`"1.0.0"`))
	expect("publisher moves a tag", st, body, http.StatusOK)
	// A key with no policy reads nothing.
	st, body = do("AKIANOBODY", http.MethodGet, "/acme/npm/app/widget", nil)
	expect("nobody reads", st, body, http.StatusForbidden)

	// An explicit Deny on one package in the repository policy beats the
	// identity policy's Allow, at once.
	admin := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	admin.OK("put-repository-permissions-policy", "--domain", "acme", "--repository", "internal", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"codeartifact:PublishPackageVersion","Resource":"arn:aws:codeartifact:stockpile:111122223333:package/acme/internal/npm//frozen"}]}`)
	st, body = do("AKIAPUB", http.MethodPut, "/acme/npm/internal/frozen", formattest.NPMPublishBody("frozen", "1.0.0", nil))
	expect("explicit deny on a package", st, body, http.StatusForbidden, "explicit deny", "package/acme/internal/npm//frozen")
	st, body = do("AKIAPUB", http.MethodPut, "/acme/npm/internal/widget", formattest.NPMPublishBody("widget", "1.1.0", nil))
	expect("another package of the repository", st, body, http.StatusOK)

	// Audit: one line per allowed write and per denial.
	var allowedPublish, deniedPublish bool
	for _, l := range logs.audit() {
		if l["principal"] == pubARN && l["action"] == "codeartifact:PublishPackageVersion" {
			switch l["outcome"] {
			case "allow":
				allowedPublish = allowedPublish || l["resource"] == "arn:aws:codeartifact:stockpile:111122223333:package/acme/internal/npm//widget"
			case "explicit-deny":
				deniedPublish = true
			}
		}
		if l["principal"] == readerARN && l["action"] == "codeartifact:ReadFromRepository" && l["outcome"] != "implicit-deny" {
			t.Errorf("an allowed read was audited: %v", l)
		}
	}
	if !allowedPublish || !deniedPublish {
		t.Errorf("audit lines: allowed publish %v, denied publish %v\n%v", allowedPublish, deniedPublish, logs.audit())
	}
	// Metrics count denials by action.
	st, body = do("", http.MethodGet, "/-/metrics", nil)
	expect("metrics", st, body, http.StatusOK, `stockpile_access_denied_total{action="codeartifact:PublishPackageVersion"} 3`, `stockpile_access_denied_total{action="codeartifact:ReadFromRepository"} 3`)
}

func TestTokenRevocation(t *testing.T) {
	cfg := accessConfig()
	in := proxytest.Start(t, proxytest.Options{Config: cfg, OnDisk: true, Formats: []formats.Format{npm.New()}})
	get := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/acme/npm/app/nothing", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	readerTok, adminTok := in.TokenFor("acme", "AKIAREADER"), in.TokenFor("acme", "AKIAADMIN")
	if st := get(readerTok); st != http.StatusNotFound {
		t.Fatalf("reader token: %d", st)
	}
	// The reader's key is removed and the admin's tokens are cut off by
	// tokens_not_before: both are refused after the restart.
	cut := time.Now().Add(time.Minute)
	in.Config().Auth.AccessKeys = []proxy.AccessKey{
		{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true, TokensNotBefore: cut},
	}
	in.Restart()
	if st := get(readerTok); st != http.StatusUnauthorized {
		t.Errorf("token of a removed key: %d, want 401", st)
	}
	if st := get(adminTok); st != http.StatusUnauthorized {
		t.Errorf("token minted before tokens_not_before: %d, want 401", st)
	}
}
