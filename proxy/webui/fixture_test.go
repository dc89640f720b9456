package webui_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

const (
	testAccount = "111122223333"
	readerARN   = "arn:aws:iam::111122223333:user/reader"
	viewerARN   = "arn:aws:iam::111122223333:user/viewer"
	// viewerPolicy may read every repository of acme, and change nothing.
	viewerPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:111122223333:repository/acme/*"}]}`
	// readerPolicy may read acme/app only.
	readerPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:111122223333:repository/acme/app"}]}`
)

// evilReadme would set a marker if a browser ran any of it.
const evilReadme = "# left-pad\n\nPads strings on the left.\n\n<script>document.title='PWNED'; window.__pwned = 1;</script>\n\n" +
	"<img src=x onerror=\"document.title='PWNED'\">\n\n[click me](javascript:document.title='PWNED')\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"

// testConfig has an admin key, a reader of acme/app, a key without any
// policy, and domain acme with app (upstream: internal) and internal.
func testConfig() *proxy.Config {
	cfg := proxy.Defaults()
	cfg.Auth.Account = testAccount
	cfg.Auth.AccessKeys = []proxy.AccessKey{
		{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true},
		{ID: "AKIAREADER", Secret: "reader-secret", Principal: readerARN, Policy: readerPolicy},
		{ID: "AKIANOBODY", Secret: "nobody-secret"},
		{ID: "AKIAVIEWER", Secret: "viewer-secret", Principal: viewerARN, Policy: viewerPolicy},
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Description: "What the apps build from", Upstreams: []string{"internal"}},
		{Name: "internal", Description: "Published here"}}}}
	return &cfg
}

// start runs a server with cfg (testConfig when nil) and publishes
// left-pad 1.0.0 and 1.1.0 (with evilReadme) and n other packages to
// acme/internal through npm's publish API.
func start(t testing.TB, cfg *proxy.Config, n int) *proxytest.Instance {
	t.Helper()
	return startLog(t, cfg, n, nil)
}

// startLog is start with the server's log going to log.
func startLog(t testing.TB, cfg *proxy.Config, n int, log *slog.Logger) *proxytest.Instance {
	t.Helper()
	if cfg == nil {
		cfg = testConfig()
	}
	in := proxytest.Start(t, proxytest.Options{Config: cfg, Formats: []formats.Format{npm.New()}, Log: log})
	tok := ""
	if !cfg.Open() {
		tok = in.TokenFor("acme", "AKIAADMIN")
	}
	publish(t, in, tok, "left-pad", "1.0.0", "")
	publish(t, in, tok, "left-pad", "1.1.0", evilReadme)
	for i := range n {
		publish(t, in, tok, fmt.Sprintf("pkg-%03d", i), "1.0.0", "")
	}
	return in
}

// publish sends what `npm publish` sends.
func publish(t testing.TB, in *proxytest.Instance, tok, name, version, readme string) {
	t.Helper()
	body := formattest.NPMPublishBody(name, version, func(v map[string]any) {
		v["description"] = "The " + name + " package"
		if readme != "" {
			v["readme"] = readme
		}
	})
	req, _ := http.NewRequest(http.MethodPut, in.URL+"/acme/npm/internal/"+name, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("publish %s@%s: %d %s", name, version, resp.StatusCode, b)
	}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBrowser(t testing.TB, in *proxytest.Instance) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: in.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status   int
	Body     string
	Location string
	Header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Body: string(body), Location: resp.Header.Get("Location"), Header: resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

// signIn signs in with tok and returns the sign-in response.
func (b *browser) signIn(tok string) page {
	b.t.Helper()
	p := b.get("/-/ui/signin")
	return b.post("/-/ui/signin", url.Values{"csrf": {csrf(b.t, p.Body)}, "token": {tok}, "next": {"/-/ui/"}})
}
