package webui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/proxy/sigv4"
)

const leftPad = "/-/ui/d/acme/r/internal/package?format=npm&name=left-pad"

func TestSignedOutVisitorSeesOnlySignIn(t *testing.T) {
	in := start(t, nil, 0)
	b := newBrowser(t, in)
	if p := b.get("/"); p.Status != http.StatusFound || p.Location != "/-/ui/" {
		t.Fatalf("GET /: %d %q, want a redirect to /-/ui/", p.Status, p.Location)
	}
	for _, path := range []string{"/-/ui/", "/-/ui/d/acme", "/-/ui/d/acme/r/internal", "/-/ui/d/acme/r/internal?q=left", leftPad} {
		t.Run(path, func(t *testing.T) {
			p := b.get(path)
			if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/-/ui/signin?next=") {
				t.Fatalf("status %d location %q, want 303 to the sign-in page", p.Status, p.Location)
			}
			if strings.Contains(p.Body, "left-pad") || strings.Contains(p.Body, "internal") {
				t.Fatalf("the redirect shows what it protects: %s", p.Body)
			}
		})
	}
	p := b.get("/-/ui/signin")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "get-authorization-token") {
		t.Fatalf("sign-in page: %d %s", p.Status, p.Body)
	}
	if strings.Contains(p.Body, "left-pad") || strings.Contains(p.Body, "/-/ui/d/acme") {
		t.Fatalf("the sign-in page shows the registry's contents: %s", p.Body)
	}
}

func TestSignInWithTokenSetsSessionCookie(t *testing.T) {
	in := start(t, nil, 0)
	b := newBrowser(t, in)
	tok := in.TokenFor("acme", "AKIAADMIN")
	p := b.signIn(tok)
	if p.Status != http.StatusSeeOther || p.Location != "/-/ui/" {
		t.Fatalf("sign in: %d %q %s", p.Status, p.Location, p.Body)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: p.Header}).Cookies() {
		if ck.Name == "stockpile_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure {
		t.Errorf("session cookie HttpOnly=%v SameSite=%v Secure=%v, want HttpOnly, Strict, not Secure over HTTP", session.HttpOnly, session.SameSite, session.Secure)
	}
	// GetAuthorizationToken's default lifetime is 12 h (TokenFor mints 1 h).
	if d := time.Until(session.Expires); d < 55*time.Minute || d > 61*time.Minute {
		t.Errorf("session expires in %v, want with the token (1 h)", d)
	}
	if p := b.get("/-/ui/"); p.Status != http.StatusOK || !strings.Contains(p.Body, `href="/-/ui/d/acme"`) || !strings.Contains(p.Body, "Sign out") {
		t.Fatalf("after sign-in: %d %s", p.Status, p.Body)
	}
	// The session ends with the token.
	in.Clock.Advance(61 * time.Minute)
	if p := b.get("/-/ui/d/acme"); p.Status != http.StatusSeeOther {
		t.Fatalf("after the token expired: %d, want 303 to sign in", p.Status)
	}
}

func TestSignInRefusesBadTokens(t *testing.T) {
	in := start(t, nil, 0)
	other := in.TokenFor("acme", "AKIAADMIN")
	for name, tok := range map[string]string{
		"garbage":   "not-a-token",
		"empty":     "",
		"truncated": other[:len(other)-4],
	} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t, in)
			if p := b.signIn(tok); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "not valid") {
				t.Fatalf("status %d: %s", p.Status, p.Body)
			}
			if p := b.get("/-/ui/"); p.Status != http.StatusSeeOther {
				t.Fatalf("signed in with a bad token: %d", p.Status)
			}
		})
	}
}

func TestSecureCookieOverHTTPS(t *testing.T) {
	cfg := testConfig()
	cfg.BaseURL = "https://registry.example.test"
	in := start(t, cfg, 0)
	b := newBrowser(t, in)
	p := b.get("/-/ui/signin")
	for _, ck := range (&http.Response{Header: p.Header}).Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure behind an https base_url", ck.Name)
		}
	}
}

func TestCrossSitePostWithoutCSRFIsRefused(t *testing.T) {
	in := start(t, nil, 0)
	tok := in.TokenFor("acme", "AKIAADMIN")
	b := newBrowser(t, in)
	if p := b.signIn(tok); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", p.Status)
	}
	good := csrf(t, b.get("/-/ui/").Body)
	cases := []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {"AAAA" + good[4:]}}, nil},
		{"from another site", url.Values{"csrf": {good}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"from another origin", url.Values{"csrf": {good}}, []string{"Origin", "http://evil.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if p := b.post("/-/ui/signout", tc.form, tc.header...); p.Status != http.StatusForbidden {
				t.Fatalf("sign-out: %d, want 403", p.Status)
			}
			if p := b.post("/-/ui/signin", url.Values{"csrf": tc.form["csrf"], "token": {tok}}, tc.header...); p.Status != http.StatusForbidden {
				t.Fatalf("sign-in: %d, want 403", p.Status)
			}
			if p := b.get("/-/ui/"); p.Status != http.StatusOK {
				t.Fatalf("the refused sign-out signed out: %d", p.Status)
			}
		})
	}
	if p := b.post("/-/ui/signout", url.Values{"csrf": {good}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign-out with the token: %d", p.Status)
	}
	if p := b.get("/-/ui/"); p.Status != http.StatusSeeOther {
		t.Fatalf("still signed in after signing out: %d", p.Status)
	}
}

func TestPagesShowOnlyWhatThePrincipalMayRead(t *testing.T) {
	in := start(t, nil, 0)
	cases := []struct {
		key           string
		see, notSee   []string
		internalPages int // status of internal's pages
	}{
		{"AKIAADMIN", []string{`/-/ui/d/acme/r/app"`, `/-/ui/d/acme/r/internal"`}, nil, http.StatusOK},
		{"AKIAREADER", []string{`/-/ui/d/acme/r/app"`}, []string{`/-/ui/d/acme/r/internal"`}, http.StatusNotFound},
		{"AKIANOBODY", nil, []string{`/-/ui/d/acme/r/app"`, `/-/ui/d/acme/r/internal"`}, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			b := newBrowser(t, in)
			b.signIn(in.TokenFor("acme", tc.key))
			dom := b.get("/-/ui/d/acme")
			shows(t, "domain page", dom.Body, tc.see, tc.notSee)
			for _, path := range []string{"/-/ui/d/acme/r/internal", leftPad} {
				p := b.get(path)
				if p.Status != tc.internalPages {
					t.Errorf("%s: %d, want %d", path, p.Status, tc.internalPages)
				}
				if tc.internalPages != http.StatusOK && strings.Contains(p.Body, "left-pad") {
					t.Errorf("%s shows left-pad to %s", path, tc.key)
				}
			}
		})
	}
}

func TestPackageListSearchAndPaging(t *testing.T) {
	in := start(t, nil, 60)
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	cases := []struct {
		name, query string
		want        []string
		notWant     []string
		count       string
	}{
		{"first page", "", []string{">left-pad<", ">pkg-000<", ">pkg-048<", `rel="next"`}, []string{">pkg-049<"}, "1–50 of 61"},
		{"second page", "page=1", []string{">pkg-049<", ">pkg-059<", `rel="prev"`}, []string{">pkg-048<", `rel="next"`}, "51–61 of 61"},
		{"prefix", "q=pkg-01", []string{">pkg-010<", ">pkg-019<"}, []string{">pkg-020<", ">left-pad<"}, "1–10 of 10"},
		{"prefix misses the middle", "q=pad", nil, []string{">left-pad<"}, "No package matches"},
		{"substring", "q=pad&match=substring", []string{">left-pad<"}, []string{">pkg-000<"}, "1–1 of 1"},
		{"origin external", "origin=external", nil, []string{">left-pad<"}, "No package matches"},
		{"origin internal", "origin=internal&q=left", []string{">left-pad<"}, nil, "1–1 of 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/-/ui/d/acme/r/internal?" + tc.query)
			if p.Status != http.StatusOK {
				t.Fatalf("%d %s", p.Status, p.Body)
			}
			shows(t, "page", p.Body, tc.want, tc.notWant)
			if !strings.Contains(p.Body, tc.count) {
				t.Errorf("lacks the count %q", tc.count)
			}
		})
	}
}

func TestRepositoryPageShowsGraphAndEndpoints(t *testing.T) {
	in := start(t, nil, 0)
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	p := b.get("/-/ui/d/acme/r/app")
	for _, s := range []string{"What the apps build from", "<svg", "1. app", "2. internal", `href="/-/ui/d/acme/r/internal"`,
		"<code>" + in.URL + "/acme/npm/app/</code>"} {
		if !strings.Contains(p.Body, s) {
			t.Errorf("repository page lacks %q", s)
		}
	}
	d := b.get("/-/ui/d/acme")
	// internal holds 1 package (left-pad) in 2 versions, of format npm.
	if !strings.Contains(d.Body, `<td class="num">1</td><td class="num">2</td>`) || !strings.Contains(d.Body, `<span class="tag">npm</span>`) {
		t.Errorf("domain page lacks internal's counts and formats: %s", d.Body)
	}
}

func TestPackagePage(t *testing.T) {
	in := start(t, nil, 0)
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	p := b.get(leftPad)
	if p.Status != http.StatusOK {
		t.Fatalf("%d %s", p.Status, p.Body)
	}
	for _, s := range []string{">1.1.0<", ">1.0.0<", "Published", "published here", "sha512", "left-pad-1.1.0.tgz",
		"npm install left-pad@1.1.0 --registry " + in.URL + "/acme/npm/internal/", "pnpm add", "yarn add",
		"<h1>left-pad</h1>", "<table>", "Pads strings on the left."} {
		if !strings.Contains(p.Body, s) {
			t.Errorf("package page lacks %q", s)
		}
	}
	for _, s := range []string{"<script", "onerror", "javascript:", "PWNED"} {
		if strings.Contains(strings.ToLower(p.Body), strings.ToLower(s)) {
			t.Errorf("package page carries %q from the README", s)
		}
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	older := b.get(leftPad + "&version=1.0.0")
	if !strings.Contains(older.Body, "npm install left-pad@1.0.0") || !strings.Contains(older.Body, "This version has no README") {
		t.Errorf("version 1.0.0 page: %s", older.Body)
	}
	if p := b.get("/-/ui/d/acme/r/internal/package?format=npm&name=no-such"); p.Status != http.StatusNotFound {
		t.Errorf("missing package: %d", p.Status)
	}
}

func TestOpenModeNeedsNoSignIn(t *testing.T) {
	cfg := testConfig()
	cfg.Auth.AccessKeys = nil
	in := start(t, cfg, 0)
	b := newBrowser(t, in)
	p := b.get(leftPad)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "open mode") || !strings.Contains(p.Body, ">1.1.0<") {
		t.Fatalf("open mode package page: %d %s", p.Status, p.Body)
	}
}

func TestAnonymousReadBrowsesWithoutSignIn(t *testing.T) {
	cfg := testConfig()
	cfg.Auth.AnonymousRead = true
	in := start(t, cfg, 0)
	b := newBrowser(t, in)
	p := b.get(leftPad)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, ">1.1.0<") || !strings.Contains(p.Body, `href="/-/ui/signin"`) {
		t.Fatalf("anonymous package page: %d %s", p.Status, p.Body)
	}
}

func TestSignInWithScopedToken(t *testing.T) {
	in := start(t, nil, 0)
	body := []byte(`{"name":"ci","repositories":["app"],"access":"read","durationSeconds":3600}`)
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/v1/stockpile/scoped-token?domain=acme", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := sigv4.Sign(req, body, "AKIAADMIN", "admin-secret", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Secret string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || created.Secret == "" {
		t.Fatalf("create scoped token: %d", resp.StatusCode)
	}
	b := newBrowser(t, in)
	if p := b.signIn(created.Secret); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in with a scoped token: %d %s", p.Status, p.Body)
	}
	dom := b.get("/-/ui/d/acme")
	if !strings.Contains(dom.Body, `/-/ui/d/acme/r/app"`) || strings.Contains(dom.Body, `/-/ui/d/acme/r/internal"`) {
		t.Errorf("a token scoped to app sees: %s", dom.Body)
	}
	if !strings.Contains(dom.Body, "user/stockpile-token/ci") {
		t.Errorf("the page does not name the scoped token's principal")
	}
	if p := b.get(leftPad); p.Status != http.StatusNotFound {
		t.Errorf("a token scoped to app reads internal's package: %d", p.Status)
	}
}

func TestPackageListFollowsNewPackages(t *testing.T) {
	in := start(t, nil, 0)
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	if p := b.get("/-/ui/d/acme/r/internal"); !strings.Contains(p.Body, ">left-pad<") {
		t.Fatalf("repository page: %s", p.Body)
	}
	publish(t, in, in.TokenFor("acme", "AKIAADMIN"), "fresh-pkg", "1.0.0", "")
	// The index is kept for a few seconds, then rebuilt in the background
	// while the kept one is still served.
	in.Clock.Advance(time.Minute)
	for {
		seen := in.Events.Counts().Indexes
		p := b.get("/-/ui/d/acme/r/internal?q=fresh")
		if strings.Contains(p.Body, ">fresh-pkg<") {
			break
		}
		// The kept index was served: wait for the rebuild it started.
		in.Events.Await(t, "fresh-pkg listed after the index expired (a rebuild)", func(c proxytest.EventCounts) bool { return c.Indexes > seen })
	}
}

func TestDomainWidePackageList(t *testing.T) {
	in := start(t, nil, 3)
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	cli.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "app",
		"--format", "npm", "--package", "left-pad", "--versions", "1.1.0")
	admin := newBrowser(t, in)
	admin.signIn(in.TokenFor("acme", "AKIAADMIN"))
	p := admin.get("/-/ui/d/acme/packages?q=left")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "in app") || !strings.Contains(p.Body, "in internal") || !strings.Contains(p.Body, "1–2 of 2") {
		t.Fatalf("admin's domain-wide search: %d %s", p.Status, p.Body)
	}
	if p := admin.get("/-/ui/d/acme/packages?q=pkg-00&match=prefix"); !strings.Contains(p.Body, "1–3 of 3") {
		t.Errorf("prefix search across the domain: %s", p.Body)
	}
	// The reader of app only sees app's copy.
	reader := newBrowser(t, in)
	reader.signIn(in.TokenFor("acme", "AKIAREADER"))
	p = reader.get("/-/ui/d/acme/packages?q=left")
	if !strings.Contains(p.Body, "in app") || strings.Contains(p.Body, "in internal") || !strings.Contains(p.Body, "1–1 of 1") {
		t.Fatalf("reader's domain-wide search: %s", p.Body)
	}
	nobody := newBrowser(t, in)
	nobody.signIn(in.TokenFor("acme", "AKIANOBODY"))
	if p := nobody.get("/-/ui/d/acme/packages"); p.Status != http.StatusNotFound || strings.Contains(p.Body, "left-pad") {
		t.Fatalf("nobody's domain-wide list: %d", p.Status)
	}
}

// Listing is a question, not an attempt: pages that leave out a repository
// the visitor may not read, or a button it may not press, count no denial;
// opening that repository's page counts one.
func TestListingCountsNoDenial(t *testing.T) {
	in := start(t, nil, 0)
	denials := func() (read, all int) {
		t.Helper()
		resp, err := http.Get(in.URL + "/-/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			name, value, ok := strings.Cut(line, " ")
			if !ok || !strings.HasPrefix(name, "stockpile_access_denied_total{") {
				continue
			}
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("metric line %q", line)
			}
			all += n
			if strings.Contains(name, `"codeartifact:ReadFromRepository"`) {
				read += n
			}
		}
		return read, all
	}
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAREADER"))
	read0, all0 := denials()
	for _, path := range []string{"/-/ui/", "/-/ui/d/acme", "/-/ui/d/acme/r/app"} {
		if p := b.get(path); p.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.Status)
		}
	}
	if read, all := denials(); read != read0 || all != all0 {
		t.Fatalf("browsing what the reader may read counted denials: read %d → %d, all %d → %d", read0, read, all0, all)
	}
	if p := b.get("/-/ui/d/acme/r/internal"); p.Status != http.StatusNotFound {
		t.Fatalf("internal: %d", p.Status)
	}
	if read, _ := denials(); read != read0+1 {
		t.Fatalf("opening a repository the reader may not read: read denials %d → %d, want one more", read0, read)
	}
}

// shows checks that a page's body contains each of want and none of notWant.
func shows(t *testing.T, page, body string, want, notWant []string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %s", page, s)
		}
	}
	for _, s := range notWant {
		if strings.Contains(body, s) {
			t.Errorf("%s shows %s", page, s)
		}
	}
}
