package proxy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/formats/rubygems"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage"
)

// namesServer is an open-mode server with every format and one repository,
// acme/internal, without external connection. Requests go straight to its
// handler (the request line of a 70k-character name is the handler's to
// refuse, not the HTTP server's header limit).
type namesServer struct {
	in   *proxytest.Instance
	host string
}

func startNames(t *testing.T) *namesServer {
	t.Helper()
	cfg := proxy.Defaults()
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{
		npm.New(), pypi.New(), maven.New(), nuget.New(), rubygems.New(), cargo.New(),
	}})
	u, err := url.Parse(in.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &namesServer{in: in, host: u.Host}
}

// do sends one request; path is already escaped.
func (s *namesServer) do(t *testing.T, method, path string, header http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://"+s.host+path, bytes.NewReader(body))
	req.Host = s.host
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.in.Server.Handler().ServeHTTP(rec, req)
	return rec
}

// publishGeneric publishes one asset with PublishPackageVersion.
func (s *namesServer) publishGeneric(t *testing.T, namespace, pkg, version string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	sum := sha256.Sum256(body)
	q := url.Values{"domain": {"acme"}, "repository": {"internal"}, "format": {"generic"},
		"namespace": {namespace}, "package": {pkg}, "version": {version}, "asset": {"a.txt"}}
	return s.do(t, http.MethodPost, "/v1/package/version/publish?"+q.Encode(),
		http.Header{"X-Amz-Content-Sha256": {hex.EncodeToString(sum[:])}, "Content-Type": {"application/octet-stream"}}, body)
}

// controlPlane calls an operation with the package coordinates in the query.
func (s *namesServer) controlPlane(t *testing.T, method, op, format, namespace, pkg string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	q := url.Values{"domain": {"acme"}, "repository": {"internal"}, "format": {format}, "package": {pkg}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	return s.do(t, method, op+"?"+q.Encode(), http.Header{"Content-Type": {"application/json"}}, body)
}

// versionsOf lists a generic package's versions (ListPackageVersions).
func (s *namesServer) versionsOf(t *testing.T, namespace, pkg string) []string {
	t.Helper()
	rec := s.controlPlane(t, http.MethodPost, "/v1/package/versions", "generic", namespace, pkg, nil)
	if rec.Code == http.StatusNotFound {
		return nil
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("ListPackageVersions %s/%q: %d %s", namespace, pkg, rec.Code, rec.Body)
	}
	var out struct{ Versions []struct{ Version string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range out.Versions {
		vs = append(vs, v.Version)
	}
	slices.Sort(vs)
	return vs
}

func wantStatus(t *testing.T, what string, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("%s: %d %s, want %d", what, rec.Code, clipBody(rec.Body.String()), want)
	}
}

func clipBody(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestNULNameCannotReachAnotherPackage: a generic package named "lib\x00x"
// is refused, so it can neither show in "lib"'s listing nor be deleted with
// "lib"; DeletePackage of "lib" leaves its sibling alone.
func TestNULNameCannotReachAnotherPackage(t *testing.T) {
	s := startNames(t)
	wantStatus(t, "publish lib 1.0", s.publishGeneric(t, "ns", "lib", "1.0", []byte("lib")), http.StatusOK)
	wantStatus(t, "publish lib-2 1.0", s.publishGeneric(t, "ns", "lib-2", "1.0", []byte("sibling")), http.StatusOK)
	wantStatus(t, "publish lib\\x00x 2.0", s.publishGeneric(t, "ns", "lib\x00x", "2.0", []byte("evil")), http.StatusBadRequest)
	wantStatus(t, "publish ns\\x00lib/x 3.0", s.publishGeneric(t, "ns\x00lib", "x", "3.0", []byte("evil")), http.StatusBadRequest)
	if got := s.versionsOf(t, "ns", "lib"); !slices.Equal(got, []string{"1.0"}) {
		t.Fatalf("lib's versions: %q, want only 1.0", got)
	}
	wantStatus(t, "DeletePackage lib", s.controlPlane(t, http.MethodDelete, "/v1/package", "generic", "ns", "lib", nil), http.StatusOK)
	if got := s.versionsOf(t, "ns", "lib-2"); !slices.Equal(got, []string{"1.0"}) {
		t.Fatalf("lib-2's versions after deleting lib: %q", got)
	}
	wantStatus(t, "list lib\\x00x", s.controlPlane(t, http.MethodPost, "/v1/package/versions", "generic", "ns", "lib\x00x", nil), http.StatusBadRequest)
	if n := s.in.CountRecords(storage.VersionsPrefix()); n != 1 {
		t.Fatalf("%d version records remain, want lib-2's one", n)
	}
}

// TestCoordinatesCannotCollide: (a, b\x00c) and (a\x00b, c) spell the same
// record key if the separator is allowed in a part; both are refused rather
// than the second being a 409 against the first.
func TestCoordinatesCannotCollide(t *testing.T) {
	s := startNames(t)
	wantStatus(t, "publish a/b\\x00c", s.publishGeneric(t, "a", "b\x00c", "1", []byte("one")), http.StatusBadRequest)
	wantStatus(t, "publish a\\x00b/c", s.publishGeneric(t, "a\x00b", "c", "1", []byte("two")), http.StatusBadRequest)
	wantStatus(t, "publish a/b", s.publishGeneric(t, "a", "b", "1", []byte("three")), http.StatusOK)
	if n := s.in.CountRecords(storage.VersionsPrefix()); n != 1 {
		t.Fatalf("%d version records, want a/b's one", n)
	}
}

// TestOverlongMavenGroup: a 70k-character groupId is a 400, not the store's
// "key too large" as a 500, on deploy and on read.
func TestOverlongMavenGroup(t *testing.T) {
	s := startNames(t)
	group := strings.Repeat("g", 70000)
	path := "/acme/maven/internal/" + group + "/lib/1.0/lib-1.0.pom"
	wantStatus(t, "PUT", s.do(t, http.MethodPut, path, nil, []byte("<project/>")), http.StatusBadRequest)
	wantStatus(t, "GET", s.do(t, http.MethodGet, path, nil, nil), http.StatusBadRequest)
	if n := s.in.CountRecords(storage.VersionsPrefix()) + s.in.CountRecords(storage.PackagesPrefix()); n != 0 {
		t.Fatalf("%d records stored", n)
	}
}

// TestPackageOriginConfigurationRefusesBadNames: npm's rules apply to the
// control plane's package parameter (no "../../x"), as do the key rules.
func TestPackageOriginConfigurationRefusesBadNames(t *testing.T) {
	s := startNames(t)
	body := []byte(`{"restrictions":{"publish":"BLOCK","upstream":"ALLOW"}}`)
	tests := []struct {
		name, format, namespace, pkg string
		want                         int
	}{
		{"npm-ok", "npm", "", "left-pad", http.StatusOK},
		{"npm-scoped-ok", "npm", "babel", "core", http.StatusOK},
		{"npm-dot-dot", "npm", "", "../../x", http.StatusBadRequest},
		{"npm-slash-in-scope", "npm", "a/../b", "x", http.StatusBadRequest},
		{"npm-nul", "npm", "", "lib\x00x", http.StatusBadRequest},
		{"pypi-path", "pypi", "", "../x", http.StatusBadRequest},
		{"maven-slash-group", "maven", "../org", "lib", http.StatusBadRequest},
		{"nuget-path", "nuget", "", "a/b", http.StatusBadRequest},
		{"ruby-path", "ruby", "", "../x", http.StatusBadRequest},
		{"cargo-path", "cargo", "", "../x", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := s.controlPlane(t, http.MethodPost, "/v1/package", tt.format, tt.namespace, tt.pkg, body)
			wantStatus(t, "PutPackageOriginConfiguration", rec, tt.want)
			if tt.want == http.StatusBadRequest && rec.Header().Get("x-amzn-ErrorType") != "ValidationException" {
				t.Errorf("error type %q", rec.Header().Get("x-amzn-ErrorType"))
			}
		})
	}
	if n := s.in.CountRecords(storage.PackagesPrefix()); n != 2 {
		t.Fatalf("%d package records, want the two valid ones", n)
	}
}

// TestBadNamesAre400Everywhere: a name with NUL, or longer than a record key
// part may be, is a 400 on every format's data plane, the generic format
// and the control plane (never a 404 that hides it, never a 500).
func TestBadNamesAre400Everywhere(t *testing.T) {
	s := startNames(t)
	long := strings.Repeat("a", storage.MaxPartLen+1)
	nul := "lib%00x"
	type request struct{ method, path string }
	dataPlane := func(name string) []struct {
		format string
		req    request
	} {
		return []struct {
			format string
			req    request
		}{
			{"npm", request{http.MethodGet, "/acme/npm/internal/" + name}},
			{"npm-tarball", request{http.MethodGet, "/acme/npm/internal/" + name + "/-/" + name + "-1.0.0.tgz"}},
			{"pypi", request{http.MethodGet, "/acme/pypi/internal/simple/" + name + "/"}},
			{"pypi-json", request{http.MethodGet, "/acme/pypi/internal/pypi/" + name + "/json"}},
			{"maven-artifact", request{http.MethodGet, "/acme/maven/internal/org/example/" + name + "/1.0/" + name + "-1.0.pom"}},
			{"maven-group", request{http.MethodGet, "/acme/maven/internal/org/" + name + "/lib/1.0/lib-1.0.pom"}},
			{"maven-deploy", request{http.MethodPut, "/acme/maven/internal/org/example/" + name + "/1.0/" + name + "-1.0.pom"}},
			{"maven-version", request{http.MethodPut, "/acme/maven/internal/org/example/lib/" + name + "/lib-" + name + ".pom"}},
			{"nuget", request{http.MethodGet, "/acme/nuget/internal/v3/flatcontainer/" + name + "/index.json"}},
			{"nuget-registration", request{http.MethodGet, "/acme/nuget/internal/v3/registration/" + name + "/index.json"}},
			{"ruby", request{http.MethodGet, "/acme/ruby/internal/info/" + name}},
			{"ruby-gem", request{http.MethodGet, "/acme/ruby/internal/gems/" + name + "-1.0.0.gem"}},
			{"cargo", request{http.MethodGet, "/acme/cargo/internal/api/v1/crates/" + name + "/1.0.0/download"}},
		}
	}
	for _, kind := range []struct{ name, value string }{{"nul", nul}, {"long", long}} {
		for _, tt := range dataPlane(kind.value) {
			t.Run(kind.name+"/"+tt.format, func(t *testing.T) {
				wantStatus(t, tt.req.method+" "+clipBody(tt.req.path), s.do(t, tt.req.method, tt.req.path, nil, []byte("x")), http.StatusBadRequest)
			})
		}
	}
	bad := []struct{ name, value string }{{"nul", "lib\x00x"}, {"control", "lib\x1bx"}, {"long", long}}
	for _, kind := range bad {
		t.Run(kind.name+"/generic", func(t *testing.T) {
			wantStatus(t, "publish name", s.publishGeneric(t, "ns", kind.value, "1.0", []byte("x")), http.StatusBadRequest)
			wantStatus(t, "publish namespace", s.publishGeneric(t, kind.value, "lib", "1.0", []byte("x")), http.StatusBadRequest)
			wantStatus(t, "publish version", s.publishGeneric(t, "ns", "lib", kind.value, []byte("x")), http.StatusBadRequest)
		})
		for _, format := range []string{"npm", "pypi", "maven", "nuget", "ruby", "cargo", "generic", "swift"} {
			t.Run(kind.name+"/control-plane/"+format, func(t *testing.T) {
				ns := ""
				if format == "maven" || format == "generic" || format == "swift" {
					ns = "org"
				}
				wantStatus(t, "DescribePackage", s.controlPlane(t, http.MethodGet, "/v1/package", format, ns, kind.value, nil), http.StatusBadRequest)
				wantStatus(t, "ListPackageVersions", s.controlPlane(t, http.MethodPost, "/v1/package/versions", format, ns, kind.value, nil), http.StatusBadRequest)
				wantStatus(t, "DeletePackage", s.controlPlane(t, http.MethodDelete, "/v1/package", format, ns, kind.value, nil), http.StatusBadRequest)
				if ns != "" {
					wantStatus(t, "DescribePackage namespace", s.controlPlane(t, http.MethodGet, "/v1/package", format, kind.value, "lib", nil), http.StatusBadRequest)
				}
				q := url.Values{"domain": {"acme"}, "repository": {"internal"}, "format": {format}, "package": {"lib"}, "version": {kind.value}}
				if ns != "" {
					q.Set("namespace", ns)
				}
				wantStatus(t, "DescribePackageVersion", s.do(t, http.MethodGet, "/v1/package/version?"+q.Encode(), nil, nil), http.StatusBadRequest)
			})
		}
	}
	if n := s.in.CountRecords(storage.VersionsPrefix()) + s.in.CountRecords(storage.PackagesPrefix()); n != 0 {
		t.Fatalf("%d records stored", n)
	}
}
