package webui_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// chromium finds Debian's chromium. Without it the test fails under
// STOCKPILE_E2E=require (CI) and is skipped otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("STOCKPILE_E2E") == "require" {
		t.Fatal("chromium is not installed (apt-get install chromium) and STOCKPILE_E2E=require")
	}
	t.Skip("chromium is not installed; set STOCKPILE_E2E=require to fail instead")
	return ""
}

// screenshotDir is where the screenshots go: $STOCKPILE_SCREENSHOTS, else
// stockpile-webui-screenshots in the system's temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("STOCKPILE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "stockpile-webui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// viewports are the widths the screenshots are taken at.
var viewports = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 900}, {"phone", 390, 844}}

// TestBrowserEndToEnd drives a real headless Chromium through the interface
// of a keyed server: the signed-out visitor sees only the sign-in page, signs
// in with a token, finds a package by search, opens its page and sees its
// versions, origin and an install snippet with the repository's URL; the
// README's script does not run; a status change through the confirmation
// page is what `aws codeartifact describe-package-version` then shows;
// left-pad's page lists uses-pad (fetched from the upstream) as a dependent;
// "Refresh now" makes a version the upstream published since show in npm's
// packument; the filter of packages cached and never requested again and
// the operations view's storage show;
// connecting two repositories to PyPI creates pypi-store once with its
// external connection, as describe-repository shows; a form
// posted from another site without the CSRF token is refused. It writes
// screenshots of each page at desktop and phone widths. It is one long test
// on purpose: every step runs in the same browser session (its cookies), and
// starting Chromium is the slow part.
func TestBrowserEndToEnd(t *testing.T) {
	exe := chromium(t)
	fake := upstreamtest.New(t)
	in := start(t, upstreamConfig(fake), 60)
	tok := in.TokenFor("acme", "AKIAADMIN")
	// uses-pad comes from the upstream through app and depends on left-pad.
	serveNPM(t, fake, "uses-pad", map[string]string{"left-pad": "^1.0.0"}, "1.0.0")
	for range 2 { // a rendered packument is kept from its second rendering on
		packumentVersions(t, in, tok, "uses-pad")
	}
	npmGet(t, in, tok, "uses-pad/-/uses-pad-1.0.0.tgz")
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	dir := screenshotDir(t)
	t.Logf("screenshots in %s", dir)

	// The attacker's page is on another site (localhost, not 127.0.0.1): a
	// form that posts to the interface's sign-out without a CSRF token, and a
	// script that sets the marker, to show the marker check can see a script
	// that ran.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>evil</title><script>window.__pwned = 1</script>
<form method="post" action="%s/-/ui/signout"><input type="hidden" name="csrf" value="guess"><button id="go" type="submit">go</button></form>`, in.URL)
	}))
	defer evil.Close()
	_, port, _ := net.SplitHostPort(evil.Listener.Addr().String())
	evilURL := "http://localhost:" + port + "/"

	root, stop := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stop()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		for _, vp := range viewports {
			run("viewport", chromedp.EmulateViewport(vp.width, vp.height))
			b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+"-"+vp.name+".png"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run("viewport", chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
	}
	// dark takes a desktop screenshot with prefers-color-scheme: dark.
	dark := func(name string) {
		t.Helper()
		scheme := func(v string) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
				return err
			})
		}
		run("dark scheme", scheme("dark"))
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-dark.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		run("light scheme", scheme("light"))
	}
	navigate := func(url string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(url))
		if err != nil {
			t.Fatalf("navigate %s: %v", url, err)
		}
		return resp.Status
	}

	// Signed out: every page leads to the sign-in page, which shows nothing else.
	navigate(in.URL + "/-/ui/d/acme/r/internal")
	if loc := location(); !strings.HasPrefix(loc, in.URL+"/-/ui/signin?next=") {
		t.Fatalf("signed-out visitor is at %s, want the sign-in page", loc)
	}
	if main := text("main"); !strings.Contains(main, "Sign in") || strings.Contains(main, "left-pad") || strings.Contains(main, "internal") {
		t.Fatalf("signed-out page shows: %s", main)
	}
	shot("signin")

	// Sign in with a token: back to the page asked for.
	run("type the token", chromedp.SendKeys(chromedp.ID("token"), tok))
	if _, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("token"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if loc := location(); loc != in.URL+"/-/ui/d/acme/r/internal" {
		t.Fatalf("after sign-in at %s", loc)
	}
	if h1 := text("h1"); h1 != "Repository internal" {
		t.Fatalf("after sign-in the page is %q", h1)
	}
	shot("repository")

	// Search by substring, then open the package.
	run("type the search", chromedp.SendKeys(chromedp.ID("q"), "pad"),
		chromedp.SetValue(chromedp.ID("match"), "substring"))
	if _, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("q"))); err != nil {
		t.Fatalf("search: %v", err)
	}
	if list := text(".packages"); !strings.Contains(list, "left-pad") || strings.Contains(list, "pkg-0") {
		t.Fatalf("search for pad lists %q", list)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(".packages a"))); err != nil {
		t.Fatalf("open the package: %v", err)
	}
	versions := text("#versions")
	for _, want := range []string{"1.1.0", "1.0.0", "Published", "published here"} {
		if !strings.Contains(versions, want) {
			t.Errorf("versions table lacks %q: %s", want, versions)
		}
	}
	if snip := text(".snippet code"); snip != "npm install left-pad@1.1.0 --registry "+in.URL+"/acme/npm/internal/" {
		t.Errorf("install snippet %q", snip)
	}
	if readme := text("#readme"); !strings.Contains(readme, "Pads strings on the left.") {
		t.Errorf("README %q", readme)
	}
	safe, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__pwned === undefined && document.title.indexOf("PWNED") < 0 && document.querySelectorAll('#readme script, #readme [onerror], #readme a[href^="javascript:"]').length === 0`))
	if err != nil || !safe {
		t.Fatalf("the README's script ran or survived (safe=%v, err=%v)", safe, err)
	}
	if deps := text("#dependents"); !strings.Contains(deps, "uses-pad 1.0.0 in app") {
		t.Errorf("left-pad's dependents: %q", deps)
	}
	shot("package")
	dark("package")

	// Change the status of 1.1.0 through its confirmation page: the control
	// plane agrees.
	run("choose Unlisted", chromedp.SetValue(chromedp.ID("status"), "Unlisted"))
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("act-status"))); err != nil {
		t.Fatalf("ask to change the status: %v", err)
	}
	shot("confirm")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("confirm"))); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if row := text("#versions tr.selected"); !strings.Contains(row, "1.1.0") || !strings.Contains(row, "Unlisted") {
		t.Errorf("after the status change the version row says %q", row)
	}
	v := cli.OK("describe-package-version", "--domain", "acme", "--repository", "internal", "--format", "npm",
		"--package", "left-pad", "--package-version", "1.1.0")
	if st := proxytest.Pick(v, "packageVersion", "status"); st != "Unlisted" {
		t.Errorf("describe-package-version says %v after the web interface set Unlisted", st)
	}
	// The upstream publishes uses-pad 1.1.0 while its packument is cached:
	// "Refresh now" makes npm's packument show it at once.
	serveNPM(t, fake, "uses-pad", map[string]string{"left-pad": "^1.0.0"}, "1.0.0", "1.1.0")
	if got := packumentVersions(t, in, tok, "uses-pad"); got != "1.0.0" {
		t.Fatalf("within the TTL the packument lists %q", got)
	}
	navigate(in.URL + "/-/ui/d/acme/r/app/package?format=npm&name=uses-pad")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("act-refresh"))); err != nil {
		t.Fatalf("ask to refresh: %v", err)
	}
	shot("confirm-refresh")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("confirm"))); err != nil {
		t.Fatalf("confirm the refresh: %v", err)
	}
	if done := text("#done"); !strings.Contains(done, "now see 2 versions") {
		t.Errorf("after the refresh the page says %q", done)
	}
	if got := packumentVersions(t, in, tok, "uses-pad"); got != "1.0.0 1.1.0" {
		t.Errorf("after the refresh the packument lists %q", got)
	}
	shot("refreshed")

	navigate(in.URL + "/-/ui/d/acme")
	shot("domain")
	navigate(in.URL + "/-/ui/d/acme/r/app?origin=idle")
	if list := text(".packages"); !strings.Contains(list, "uses-pad") {
		t.Errorf("app's cached packages never requested again: %q", list)
	}
	navigate(in.URL + "/-/ui/ops")
	if st := text("#storage"); !strings.Contains(st, "acme") {
		t.Errorf("the operations view's storage: %q", st)
	}
	shot("ops")
	navigate(in.URL + "/-/ui/d/acme/r/app")
	graph, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("svg.graph title")))
	if err != nil || !strings.Contains(graph, "1. app, 2. internal") {
		t.Errorf("the resolution graph says %q (%v)", graph, err)
	}
	shot("upstreams")

	// Connect app, then internal, to PyPI: pypi-store is created once, with
	// its external connection, and is the last upstream of both.
	for _, repo := range []string{"app", "internal"} {
		navigate(in.URL + "/-/ui/d/acme/r/" + repo + "/settings")
		run("choose PyPI", chromedp.SetValue(chromedp.ID("connection"), "public:pypi"))
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("connect"))); err != nil {
			t.Fatalf("connect %s: %v", repo, err)
		}
		if done := text("#done"); !strings.Contains(done, "connected") {
			t.Fatalf("after connecting %s the page says %q", repo, done)
		}
		if ups, _ := upstreamsOf(t, cli, repo); len(ups) == 0 || ups[len(ups)-1] != "pypi-store" {
			t.Fatalf("%s's upstreams after connecting to PyPI: %v", repo, ups)
		}
	}
	shot("settings")
	if _, conns := upstreamsOf(t, cli, "pypi-store"); len(conns) != 1 || conns[0] != "public:pypi" {
		t.Fatalf("pypi-store's external connections: %v", conns)
	}
	if all := names(cli.OK("list-repositories-in-domain", "--domain", "acme")); strings.Count(strings.Join(all, " "), "pypi-store") != 1 {
		t.Fatalf("repositories: %v", all)
	}

	// A form posted from another site, without the CSRF token, is refused
	// and changes nothing: the visitor is still signed in.
	navigate(evilURL)
	if marker, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__pwned || 0`)); err != nil || marker != 1 {
		t.Fatalf("the marker check cannot see a script that ran (marker=%d, err=%v)", marker, err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("go")))
	if err != nil {
		t.Fatalf("cross-site post: %v", err)
	}
	if resp.Status != http.StatusForbidden {
		t.Fatalf("cross-site post without CSRF token: %d, want 403", resp.Status)
	}
	navigate(in.URL + "/-/ui/")
	if who := text("header .who"); !strings.Contains(who, "Sign out") {
		t.Fatalf("the cross-site post signed the visitor out: %q", who)
	}
}
