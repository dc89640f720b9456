package proxy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// send makes one request with a Host and headers of the caller's choosing
// and returns status, headers and body.
func send(t *testing.T, method, url, host, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// startOpen starts an open-mode server (no access keys) with the toy format
// and PyPI over domain acme, repository app.
func startOpen(t *testing.T, edit func(*proxy.Config)) *proxytest.Instance {
	t.Helper()
	cfg := proxy.Defaults()
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app"}}}}
	if edit != nil {
		edit(&cfg)
	}
	return proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}, pypi.New()}})
}

// TestOpenModeCrossSite: without access keys, a web page cannot drive the
// server through the user's browser: unsafe methods and /v1 calls marked
// cross-site are refused, and nothing is created; clients that send no
// browser headers, and same-origin pages, still work.
func TestOpenModeCrossSite(t *testing.T) {
	in := startOpen(t, nil)
	self := strings.TrimPrefix(in.URL, "http://")
	evil := map[string]string{"Origin": "http://attacker.example", "Content-Type": "text/plain"}
	form := "--b\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n--b--\r\n"
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    map[string]string
		want   int
	}{
		{"create domain, text/plain from another origin", "POST", "/v1/domain?domain=evil", "{}", evil, 403},
		{"mint a token from another origin", "POST", "/v1/authorization-token?domain=acme", "", evil, 403},
		{"publish to PyPI from another origin", "POST", "/acme/pypi/app/", form,
			map[string]string{"Origin": "http://attacker.example", "Content-Type": "multipart/form-data; boundary=b"}, 403},
		{"Sec-Fetch-Site cross-site without Origin", "POST", "/v1/domain?domain=evil", "{}",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"Sec-Fetch-Site same-site (another port)", "POST", "/v1/domain?domain=evil", "{}",
			map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"opaque origin", "POST", "/v1/domain?domain=evil", "{}", map[string]string{"Origin": "null"}, 403},
		{"read the control plane from another origin", "GET", "/v1/domain?domain=acme", "",
			map[string]string{"Origin": "http://attacker.example"}, 403},
		{"read a package from another origin", "GET", "/acme/cargo/app/demo", "",
			map[string]string{"Origin": "http://attacker.example"}, 404},
		{"same origin page", "GET", "/v1/domain?domain=acme", "",
			map[string]string{"Origin": "http://" + self, "Sec-Fetch-Site": "same-origin"}, 200},
		{"a command-line client", "GET", "/v1/domain?domain=acme", "", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := send(t, tt.method, in.URL+tt.path, "", tt.body, tt.hdr)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			if tt.want == 403 && !strings.Contains(body, "cross-site") {
				t.Errorf("body %q does not say why", body)
			}
		})
	}
	if code, _, _ := send(t, "GET", in.URL+"/v1/domain?domain=evil", "", "", nil); code != 404 {
		t.Errorf("domain evil: status %d, want 404 (never created)", code)
	}
}

// TestOpenModeHost: without access keys only loopback names (and
// base_url's host) are answered, so a rebound DNS name reaches nothing.
func TestOpenModeHost(t *testing.T) {
	tests := []struct {
		name string
		keys bool
		base string
		host string
		want int
	}{
		{"rebound name", false, "", "attacker.example:{port}", 403},
		{"rebound name without port", false, "", "attacker.example", 403},
		{"localhost", false, "", "localhost:{port}", 200},
		{"loopback address", false, "", "127.0.0.1:{port}", 200},
		{"ipv6 loopback", false, "", "[::1]:{port}", 200},
		{"base_url host", false, "http://stockpile.internal:8080", "stockpile.internal:8080", 200},
		{"other name with keys", true, "", "attacker.example", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := startOpen(t, func(c *proxy.Config) {
				c.BaseURL = tt.base
				if tt.keys {
					c.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIATEST", Secret: "s3cret"}}
				}
			})
			port := in.URL[strings.LastIndexByte(in.URL, ':')+1:]
			host := strings.ReplaceAll(tt.host, "{port}", port)
			for _, path := range []string{"/-/health", "/acme/cargo/app/demo"} {
				want := tt.want
				if want == 200 && path != "/-/health" {
					want = 404 // answered: the toy format has no package demo
					if tt.keys {
						want = 401
					}
				}
				if code, _, body := send(t, "GET", in.URL+path, host, "", nil); code != want {
					t.Errorf("%s with Host %s: status %d, want %d: %s", path, host, code, want, body)
				}
			}
			if tt.want == 403 {
				code, _, _ := send(t, "POST", in.URL+"/v1/domain?domain=rebound", host, "{}", nil)
				if code != 403 {
					t.Errorf("create domain with Host %s: status %d, want 403", host, code)
				}
			}
		})
	}
}

// TestForwardedHeadersNeedTrustedProxy: X-Forwarded-Host and -Proto change
// the endpoints Stockpile hands out only when the peer is a trusted proxy.
func TestForwardedHeadersNeedTrustedProxy(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		want    string // prefix of the endpoint; {url} is the server's URL
	}{
		{"untrusted peer", nil, "{url}/acme/cargo/app"},
		{"peer not in the list", []string{"10.0.0.0/8"}, "{url}/acme/cargo/app"},
		{"trusted peer", []string{"127.0.0.1"}, "https://mirror.example/acme/cargo/app"},
		{"trusted prefix", []string{"127.0.0.0/8", "::1"}, "https://mirror.example/acme/cargo/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := startOpen(t, func(c *proxy.Config) { c.TrustedProxies = tt.trusted })
			code, _, body := send(t, "GET", in.URL+"/v1/repository/endpoint?domain=acme&repository=app&format=cargo", "", "",
				map[string]string{"X-Forwarded-Host": "mirror.example", "X-Forwarded-Proto": "https"})
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			var out struct {
				RepositoryEndpoint string `json:"repositoryEndpoint"`
			}
			json.Unmarshal([]byte(body), &out)
			want := strings.ReplaceAll(tt.want, "{url}", in.URL)
			if !strings.HasPrefix(out.RepositoryEndpoint, want) {
				t.Errorf("endpoint %q, want %s…", out.RepositoryEndpoint, want)
			}
		})
	}
}

var requestIDInBody = regexp.MustCompile(`\(request id ([A-Za-z0-9._-]+)\)`)

// TestErrorBodies: error answers carry a short reason and the request id
// (also in X-Request-Id and in the access log), never an upstream's
// response body, storage identifiers (blob ids) or the digests of what was
// received.
func TestErrorBodies(t *testing.T) {
	fake := upstreamtest.New(t)
	fake.Handle("/broken.json", upstreamtest.Response{Status: 503,
		Body: []byte("UPSTREAM-INTERNAL-DETAIL at /srv/registry/db.go:42 token=abc123")})
	fake.Handle("/toolong.json", upstreamtest.Response{Status: 414, Body: []byte("URI Too Long: UPSTREAM-DETAIL")})
	var log proxytest.LogBuffer
	cfg := proxy.Defaults()
	cfg.MaxPublishSize = 16
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: fake.URL + "/", Retries: 1}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", ExternalConnection: "public:crates-io"},
	}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}},
		Log: slog.New(slog.NewTextHandler(&log, nil))})

	asset := bytes.Repeat([]byte("z"), 100)
	sum := sha256.Sum256(asset)
	assetSHA := hex.EncodeToString(sum[:])
	tests := []struct {
		name     string
		method   string
		path     string
		body     []byte
		hdr      map[string]string
		want     int
		mustNot  []string
		mustHave string
	}{
		{name: "upstream failure", method: "GET", path: "/acme/cargo/app/broken", want: 502,
			mustNot: []string{"UPSTREAM-INTERNAL-DETAIL", "/srv/registry", "abc123", fake.URL}, mustHave: "public:crates-io"},
		{name: "upstream 414 is a 502, not a 500", method: "GET", path: "/acme/cargo/app/toolong", want: 502,
			mustNot: []string{"UPSTREAM-DETAIL", fake.URL}, mustHave: "public:crates-io: 414"},
		{name: "too large publish", method: "POST",
			path: "/v1/package/version/publish?domain=acme&repository=app&format=generic&namespace=tools&package=big&version=1.0&asset=big.bin",
			body: asset, hdr: map[string]string{"X-Amz-Content-Sha256": assetSHA, "Content-Type": "application/octet-stream"},
			want: 413, mustNot: []string{"badgerstore", "blob", assetSHA}, mustHave: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := send(t, tt.method, in.URL+tt.path, "", string(tt.body), tt.hdr)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			for _, s := range tt.mustNot {
				if strings.Contains(body, s) {
					t.Errorf("body reveals %q: %s", s, body)
				}
			}
			if !strings.Contains(body, tt.mustHave) {
				t.Errorf("body %q lacks the reason %q", body, tt.mustHave)
			}
			m := requestIDInBody.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("body %q has no request id", body)
			}
			if id := hdr.Get("X-Request-Id"); id != m[1] {
				t.Errorf("body's request id %q, header's %q", m[1], id)
			}
			if !strings.Contains(log.String(), "request_id="+m[1]+" ") {
				t.Errorf("the log has no line with request_id=%s:\n%s", m[1], log.String())
			}
		})
	}
}

// TestRequestIDFromClient: a client's X-Request-Id is kept when it is a
// plain token, replaced otherwise (it ends up in logs and bodies).
func TestRequestIDFromClient(t *testing.T) {
	in := startOpen(t, nil)
	for _, tc := range []struct{ sent, want string }{
		{"build-42.step_7", "build-42.step_7"},
		{"bad id with spaces", ""},
		{"inject\" status=200", ""},
		{strings.Repeat("a", 65), ""},
	} {
		_, hdr, _ := send(t, "GET", in.URL+"/-/health", "", "", map[string]string{"X-Request-Id": tc.sent})
		got := hdr.Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == tc.sent || got == "") {
			t.Errorf("sent %q, got %q", tc.sent, got)
		}
	}
}

// TestMetricsAuth: /-/metrics needs the metrics_auth token when one is set.
func TestMetricsAuth(t *testing.T) {
	tests := []struct {
		name  string
		token string
		auth  string
		want  int
	}{
		{"no token configured", "", "", 200},
		{"missing", "m3trics", "", 401},
		{"wrong", "m3trics", "Bearer nope", 401},
		{"right", "m3trics", "Bearer m3trics", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := startOpen(t, func(c *proxy.Config) { c.MetricsAuth = tt.token })
			hdr := map[string]string{}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			code, _, body := send(t, "GET", in.URL+"/-/metrics", "", "", hdr)
			if code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			if code == 200 && !strings.Contains(body, "go_gc_duration_seconds") {
				t.Errorf("no metrics in %.200s", body)
			}
		})
	}
}

// TestSlowBodyCutByServer: the server's http settings reach its listener: a
// control-plane body that trickles in is cut within min_body_rate_window,
// and nothing is created.
func TestSlowBodyCutByServer(t *testing.T) {
	in := startOpen(t, func(c *proxy.Config) {
		c.HTTP.MinBodyRate, c.HTTP.MinBodyRateWindow = 1000, 500*time.Millisecond
	})
	c := proxy.Trickle(t, strings.TrimPrefix(in.URL, "http://"),
		"POST /v1/domain?domain=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n{", ' ')
	if took := proxy.WaitClosed(t, c, 4*time.Second); took > 2500*time.Millisecond {
		t.Errorf("cut after %s, want within the 500ms window (plus slack)", took)
	}
	if code, _, _ := send(t, "GET", in.URL+"/v1/domain?domain=slow", "", "", nil); code != 404 {
		t.Errorf("domain slow: status %d, want 404", code)
	}
}
