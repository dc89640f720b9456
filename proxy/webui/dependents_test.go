package webui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// sizeText is how the pages write a size (below a KiB and up to a MiB).
func sizeText(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}

// TestDependentsAndStorage: a package fetched from the upstream through app
// depends on left-pad, published to internal. left-pad's page lists it as a
// dependent in app and in npm-store; the repository page shows the bytes
// its versions refer to; the operations view shows the domain's stored
// files, each once.
func TestDependentsAndStorage(t *testing.T) {
	fake := upstreamtest.New(t)
	cfg := upstreamConfig(fake)
	cfg.Auth.AccessKeys = append(cfg.Auth.AccessKeys, proxy.AccessKey{ID: "AKIAINTERNAL", Secret: "internal-secret",
		Principal: "arn:aws:iam::111122223333:user/internal-only", Policy: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:111122223333:repository/acme/internal"}]}`})
	in := start(t, cfg, 0)
	tok := in.TokenFor("acme", "AKIAADMIN")
	serveNPM(t, fake, "uses-pad", map[string]string{"left-pad": "^1.0.0"}, "1.0.0")
	usesPad := npmGet(t, in, tok, "uses-pad/-/uses-pad-1.0.0.tgz")
	b := newBrowser(t, in)
	b.signIn(tok)

	p := b.get(leftPad)
	i := strings.Index(p.Body, `id="dependents"`)
	if i < 0 {
		t.Fatalf("left-pad's page has no dependents:\n%s", p.Body)
	}
	deps := p.Body[i:]
	deps = deps[:strings.Index(deps, "</section>")]
	for _, want := range []string{">uses-pad</a> 1.0.0 <span class=\"muted\">in app<", ">uses-pad</a> 1.0.0 <span class=\"muted\">in npm-store<"} {
		if !strings.Contains(deps, want) {
			t.Errorf("left-pad's dependents lack %q:\n%s", want, deps)
		}
	}
	if p := b.get("/-/ui/d/acme/r/app/package?format=npm&name=uses-pad"); !strings.Contains(p.Body, "No package of this domain depends on it.") {
		t.Errorf("uses-pad's page lists dependents")
	}
	// A principal that may read internal only does not see dependents in
	// repositories it may not read.
	other := newBrowser(t, in)
	other.signIn(in.TokenFor("acme", "AKIAINTERNAL"))
	if p := other.get(leftPad); p.Status != 200 || strings.Contains(p.Body, "uses-pad") || !strings.Contains(p.Body, "No package of this domain depends on it.") {
		t.Errorf("a reader of internal only sees dependents elsewhere (%d)", p.Status)
	}

	var leftPadBytes int
	for _, v := range []string{"1.0.0", "1.1.0"} {
		tgz, _, _ := formattest.NPMManifestTarball("left-pad", v)
		leftPadBytes += len(tgz)
	}
	for repo, want := range map[string]int{"internal": leftPadBytes, "app": len(usesPad), "npm-store": len(usesPad)} {
		if p := b.get("/-/ui/d/acme/r/" + repo); !strings.Contains(p.Body, `<dd id="storage">`+sizeText(want)+" ") {
			t.Errorf("%s's storage is not %s", repo, sizeText(want))
		}
	}
	ops := b.get("/-/ui/ops")
	if want := `<th scope="row">acme</th><td class="num">3</td><td class="num">` + sizeText(leftPadBytes+len(usesPad)) + `</td>`; !strings.Contains(ops.Body, want) {
		t.Errorf("the operations view lacks %s", want)
	}
}
