package cargo_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Package lifecycle and governance seen by the real cargo: the AWS CLI
// changes version statuses, disposes, copies and blocks a name prefix, and
// cargo shows what each change lets it do.

// cargoFor is a fresh CARGO_HOME whose crates.io is replaced by repository
// repo.
func cargoFor(t *testing.T, in *proxytest.Instance, repo string) *cargoClient {
	t.Helper()
	return cargoHome(t, in, repo, "")
}

// resolve makes a fresh project depending on life-crate with req and locks
// it through repository repo; it returns the project and the locked
// version, or cargo's error output.
func resolve(t *testing.T, in *proxytest.Instance, repo, crate, req string) (dir, version, failure string) {
	t.Helper()
	dir = project(t, "consumer", "0.1.0", fmt.Sprintf("%s = %q", crate, req))
	out, err := cargoFor(t, in, repo).run(dir, "generate-lockfile")
	if err != nil {
		return dir, "", out
	}
	return dir, locked(t, dir)[crate], ""
}

func TestCargoLifecycleWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	reg := newRegistry(t, styleMarkers)
	reg.standard(t) // the upstream has acme-internal 9.9.9 and the a → bb → c_d chain
	in := stockpile(t, reg, upstream.Options{}, func(cfg *proxy.Config) {
		withKeys(cfg)
		cfg.Storage.BlobGCGrace = 0
		cfg.Domains[0].Repositories = append(cfg.Domains[0].Repositories, proxy.RepositoryConfig{Name: "dest"})
	})
	a := proxytest.NewAWSCLI(t, in, "AKIDTEST", "secret")
	tok := in.Token("acme")
	crates := map[string][]byte{}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		crates[v] = goCrate(t, "life-crate", v)
		res := do(t, http.MethodPut, in.URL+"/acme/cargo/internal/api/v1/crates/new", bytes.NewReader(publishBody(newCrateMeta("life-crate", v), crates[v])), "Authorization", tok)
		if res.Code != 200 {
			t.Fatalf("publish life-crate %s: %d %s", v, res.Code, res.Body)
		}
	}
	// The control plane names the crate in its canonical form.
	lp := proxytest.CLIPackage{Domain: "acme", Format: "cargo", Package: "life_crate"}
	pkg := lp.Args
	status := func(t *testing.T, v, target string) { a.SetStatus(t, lp, "internal", v, target) }
	assets := a.OK(append([]string{"list-package-version-assets"}, pkg("internal", "--package-version", "1.0.0")...)...)
	sum, _ := proxytest.Pick(assets, "assets", 0, "hashes", "SHA-256").(string)
	if want := sha256.Sum256(crates["1.0.0"]); sum != hex.EncodeToString(want[:]) || len(proxytest.Pick(assets, "assets").([]any)) != 1 {
		t.Fatalf("list-package-version-assets: %v", assets)
	}

	// Projects that pinned a version (=x.y.z, locked) while every version
	// was Published. The checks resolve and fetch through internal, the
	// repository whose versions change: a repository that fetched a
	// version through its upstreams keeps a copy with a status of its own.
	pinned := map[string]string{}
	for _, v := range []string{"1.0.0", "1.2.0", "1.3.0"} {
		dir, got, failure := resolve(t, in, "internal", "life-crate", "="+v)
		if got != v {
			t.Fatalf("locking =%s: got %q\n%s", v, got, failure)
		}
		pinned[v] = dir
	}
	// fetch downloads what dir's lockfile pins, through internal, into a
	// fresh CARGO_HOME whose downloads it returns.
	fetch := func(t *testing.T, dir string) ([]string, string, error) {
		t.Helper()
		cg := cargoFor(t, in, "internal")
		out, err := cg.run(dir, "fetch", "--locked")
		return cg.cached(), out, err
	}
	// mustFail checks a cargo run failed saying want.
	mustFail := func(t *testing.T, what, out string, want string) {
		t.Helper()
		if out == "" || !strings.Contains(out, want) {
			t.Fatalf("%s: want a failure saying %q, got:\n%s", what, want, out)
		}
	}
	// download is the status of the .crate of a version below cargo's
	// dl URL in internal (cargo itself stops at the index first).
	download := func(t *testing.T, v string) int {
		t.Helper()
		return get(t, in.URL+"/acme/cargo/internal/api/v1/crates/life-crate/"+v+"/download", "Authorization", tok).Code
	}
	// mustBeGone checks that version v, in state (Archived, Disposed), is
	// neither resolved for =v, nor fetched for a lockfile pinned to it,
	// nor downloaded.
	mustBeGone := func(t *testing.T, v, state string) {
		t.Helper()
		_, _, failure := resolve(t, in, "internal", "life-crate", "="+v)
		mustFail(t, "a new resolve of ="+v, failure, "failed to select a version for the requirement `life-crate = \"="+v+"\"`")
		cached, out, err := fetch(t, pinned[v])
		if err == nil || len(cached) != 0 {
			t.Fatalf("a lockfile pinned to the %s %s was fetched: %v\n%s", state, v, cached, out)
		}
		mustFail(t, "fetching a lockfile pinned to the "+state+" "+v, out, "(locked to "+v+")")
		if code := download(t, v); code != 404 {
			t.Fatalf("download of the %s %s: %d", state, v, code)
		}
	}

	t.Run("copy", func(t *testing.T) {
		r := a.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "dest",
			"--format", "cargo", "--package", "life_crate", "--versions", "1.1.0")
		if proxytest.Pick(r, "successfulVersions", "1.1.0", "status") != "Published" {
			t.Fatalf("copy-package-versions: %v", r)
		}
		dir, got, failure := resolve(t, in, "dest", "life-crate", "*")
		if got != "1.1.0" {
			t.Fatalf("resolving * through dest: got %q\n%s", got, failure)
		}
		cg := cargoFor(t, in, "dest")
		cg.must(dir, "fetch", "--locked")
		if diff := cmp.Diff([]string{"life-crate-1.1.0.crate"}, cg.cached()); diff != "" {
			t.Fatalf("downloaded from dest (-want +got):\n%s", diff)
		}
	})

	t.Run("unlisted", func(t *testing.T) {
		status(t, "1.3.0", "Unlisted")
		for _, req := range []string{"*", "^1"} {
			if _, got, failure := resolve(t, in, "internal", "life-crate", req); got != "1.2.0" {
				t.Fatalf("a new resolve of %s with 1.3.0 Unlisted: got %q\n%s", req, got, failure)
			}
		}
		// Unlisted is yanked to cargo, which never picks a yanked version
		// for a new requirement, even =1.3.0 ...
		_, _, failure := resolve(t, in, "internal", "life-crate", "=1.3.0")
		mustFail(t, "a new resolve of =1.3.0", failure, "version 1.3.0 is yanked")
		// ... but a lockfile pinned to it still downloads it,
		cached, out, err := fetch(t, pinned["1.3.0"])
		if err != nil || !cmp.Equal(cached, []string{"life-crate-1.3.0.crate"}) {
			t.Fatalf("fetching a lockfile pinned to the Unlisted 1.3.0: %v %v\n%s", err, cached, out)
		}
		// and cargo update --precise selects it.
		dir, _, _ := resolve(t, in, "internal", "life-crate", "^1")
		out = cargoFor(t, in, "internal").must(dir, "update", "-p", "life-crate", "--precise", "1.3.0")
		if got := locked(t, dir)["life-crate"]; got != "1.3.0" || !strings.Contains(out, "yanked") {
			t.Fatalf("cargo update --precise 1.3.0 locked %s:\n%s", got, out)
		}
		if cached, out, err := fetch(t, dir); err != nil || !cmp.Equal(cached, []string{"life-crate-1.3.0.crate"}) {
			t.Fatalf("fetching after --precise 1.3.0: %v %v\n%s", err, cached, out)
		}
	})

	t.Run("archived", func(t *testing.T) {
		status(t, "1.2.0", "Archived")
		if _, got, failure := resolve(t, in, "internal", "life-crate", "*"); got != "1.1.0" {
			t.Fatalf("a new resolve of * with 1.2.0 Archived: got %q\n%s", got, failure)
		}
		mustBeGone(t, "1.2.0", "Archived")
	})

	t.Run("disposed", func(t *testing.T) {
		r := a.OK(append([]string{"dispose-package-versions"}, pkg("internal", "--versions", "1.0.0")...)...)
		if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Disposed" {
			t.Fatalf("dispose-package-versions: %v", r)
		}
		mustBeGone(t, "1.0.0", "Disposed")
		in.WaitReclaimed(t, "acme", sum)
	})

	// cargo has no namespaces: the group is a name prefix, matched against
	// canonical names (acme-internal is acme_internal).
	t.Run("package group blocks external versions of a name prefix", func(t *testing.T) {
		a.BlockExternal(t, "acme", "/cargo//acme~")
		assoc := a.OK("get-associated-package-group", "--domain", "acme", "--format", "cargo", "--package", "acme_internal")
		if proxytest.Pick(assoc, "packageGroup", "pattern") != "/cargo//acme~" {
			t.Fatalf("get-associated-package-group: %v", assoc)
		}
		for _, req := range []string{"*", "=9.9.9"} {
			_, _, failure := resolve(t, in, "app", "acme-internal", req)
			mustFail(t, "resolving the blocked acme-internal "+req, failure, "no matching package named `acme-internal` found")
		}
		dir, got, failure := resolve(t, in, "app", "long-crate-name", "1")
		if got != "1.1.0" {
			t.Fatalf("resolving long-crate-name outside the group: %q\n%s", got, failure)
		}
		cg := cargoFor(t, in, "app")
		cg.must(dir, "fetch", "--locked")
		if diff := cmp.Diff([]string{"a-0.1.0.crate", "bb-0.1.0.crate", "c_d-0.1.0.crate", "long-crate-name-1.1.0.crate"}, cg.cached()); diff != "" {
			t.Fatalf("downloaded outside the group (-want +got):\n%s", diff)
		}
		if n := reg.DL.Hits(reg.dlPath(fixture(t, "acme-internal", "9.9.9"))); n != 0 {
			t.Fatalf("the blocked acme-internal was downloaded from the upstream %d times", n)
		}
	})
}
