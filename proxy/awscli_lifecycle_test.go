package proxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// startLifecycle starts app → store (toy upstream) and dest, with access
// keys, and returns the AWS CLI bound to it.
func startLifecycle(t *testing.T) (*proxytest.Instance, *proxytest.ToyUpstream, *proxytest.AWSCLI) {
	up := proxytest.NewToyUpstream(t)
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIASTOCKPILETEST", Secret: "stockpile-secret"}}
	cfg.Auth.AnonymousRead = true
	cfg.Storage.BlobGCGrace = 0
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/"}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
		{Name: "dest"},
	}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}})
	return in, up, proxytest.NewAWSCLI(t, in, "AKIASTOCKPILETEST", "stockpile-secret")
}

// publishToy publishes internal versions of a toy package into a repository.
func publishToy(t *testing.T, in *proxytest.Instance, repo, pkg string, versions ...string) {
	t.Helper()
	for _, v := range versions {
		body := []byte("internal " + pkg + " " + v + "\n")
		sum := sha256.Sum256(body)
		err := in.Server.Resolver().Publish(context.Background(), formats.RepoRef{Domain: "acme", Repository: repo},
			formats.Package{Format: "cargo", Name: pkg}, formats.Publication{
				Version: formats.Version{Version: v, Assets: []formats.AssetRef{{Name: pkg + "-" + v + ".txt", Digests: formats.Digests{SHA256: hex.EncodeToString(sum[:])}}}},
				Content: func(string) (io.Reader, error) { return bytes.NewReader(body), nil },
			})
		if err != nil {
			t.Fatalf("publish %s %s: %v", pkg, v, err)
		}
	}
}

func versionStatuses(t *testing.T, a *proxytest.AWSCLI, repo, pkg string) map[string]string {
	t.Helper()
	out := a.OK("list-package-versions", "--domain", "acme", "--repository", repo, "--format", "cargo", "--package", pkg)
	got := map[string]string{}
	for _, v := range proxytest.Pick(out, "versions").([]any) {
		got[proxytest.Pick(v, "version").(string)] = proxytest.Pick(v, "status").(string)
	}
	return got
}

func TestAWSCLIVersionLifecycle(t *testing.T) {
	in, _, a := startLifecycle(t)
	publishToy(t, in, "app", "demo", "1.0.0", "1.1.0", "2.0.0", "3.0.0")
	base := in.URL + "/acme/cargo/app/demo"
	pkg := []string{"--domain", "acme", "--repository", "app", "--format", "cargo", "--package", "demo"}
	with := func(extra ...string) []string { return append(append([]string{}, pkg...), extra...) }

	// Unlisted: not offered, still installable by exact version.
	r := a.OK(append([]string{"update-package-versions-status"}, with("--versions", "1.0.0", "--target-status", "Unlisted")...)...)
	if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Unlisted" {
		t.Fatalf("update-package-versions-status: %v", r)
	}
	if _, body := get(t, base); strings.Contains(body, `"1.0.0"`) {
		t.Fatalf("an Unlisted version is offered: %s", body)
	}
	if code, _ := get(t, base+"/1.0.0/demo-1.0.0.txt"); code != 200 {
		t.Fatalf("an Unlisted version by exact version: %d", code)
	}
	// Archived: neither offered nor downloadable.
	a.OK(append([]string{"update-package-versions-status"}, with("--versions", "1.1.0", "--target-status", "Archived")...)...)
	if code, _ := get(t, base+"/1.1.0/demo-1.1.0.txt"); code != 404 {
		t.Fatalf("an Archived version: %d", code)
	}
	// Guards: a wrong expected status fails the version, the others are skipped.
	r = a.OK(append([]string{"update-package-versions-status"}, with("--versions", "2.0.0", "3.0.0", "--expected-status", "Archived", "--target-status", "Published")...)...)
	if proxytest.Pick(r, "failedVersions", "2.0.0", "errorCode") != "MISMATCHED_STATUS" && proxytest.Pick(r, "failedVersions", "2.0.0", "errorCode") != "SKIPPED" {
		t.Fatalf("expected-status guard: %v", r)
	}
	for _, v := range []string{"2.0.0", "3.0.0"} {
		if code := proxytest.Pick(r, "failedVersions", v, "errorCode"); code != "MISMATCHED_STATUS" {
			t.Fatalf("expected-status guard for %s: %v", v, r)
		}
	}
	r = a.OK(append([]string{"update-package-versions-status"}, with("--versions", "2.0.0", "--version-revisions", "2.0.0=not-the-revision", "--target-status", "Unlisted")...)...)
	if proxytest.Pick(r, "failedVersions", "2.0.0", "errorCode") != "MISMATCHED_REVISION" {
		t.Fatalf("revision guard: %v", r)
	}
	r = a.OK(append([]string{"update-package-versions-status"}, with("--versions", "2.0.0", "9.9.9", "--target-status", "Unlisted")...)...)
	if proxytest.Pick(r, "failedVersions", "9.9.9", "errorCode") != "NOT_FOUND" || proxytest.Pick(r, "failedVersions", "2.0.0", "errorCode") != "SKIPPED" {
		t.Fatalf("all or nothing: %v", r)
	}
	a.Fails("ValidationException", append([]string{"update-package-versions-status"}, with("--versions", "2.0.0", "--target-status", "Disposed")...)...)

	// Dispose: the record stays, the bytes go.
	desc := a.OK(append([]string{"list-package-version-assets"}, with("--package-version", "2.0.0")...)...)
	sum := proxytest.Pick(desc, "assets", 0, "hashes", "SHA-256").(string)
	r = a.OK(append([]string{"dispose-package-versions"}, with("--versions", "2.0.0")...)...)
	if proxytest.Pick(r, "successfulVersions", "2.0.0", "status") != "Disposed" {
		t.Fatalf("dispose-package-versions: %v", r)
	}
	if code, _ := get(t, base+"/2.0.0/demo-2.0.0.txt"); code != 404 {
		t.Fatalf("a Disposed version: %d", code)
	}
	in.WaitReclaimed(t, "acme", sum)
	a.OK(append([]string{"update-package-versions-status"}, with("--versions", "1.0.0", "--target-status", "Published")...)...)
	r = a.OK(append([]string{"update-package-versions-status"}, with("--versions", "2.0.0", "--target-status", "Published")...)...)
	if proxytest.Pick(r, "failedVersions", "2.0.0", "errorCode") != "NOT_ALLOWED" {
		t.Fatalf("a Disposed version came back: %v", r)
	}

	// Delete.
	r = a.OK(append([]string{"delete-package-versions"}, with("--versions", "1.1.0")...)...)
	if proxytest.Pick(r, "successfulVersions", "1.1.0", "status") != "Deleted" {
		t.Fatalf("delete-package-versions: %v", r)
	}
	if diff := cmp.Diff(map[string]string{"1.0.0": "Published", "2.0.0": "Disposed", "3.0.0": "Published"}, versionStatuses(t, a, "app", "demo")); diff != "" {
		t.Fatalf("versions after the changes (-want +got):\n%s", diff)
	}
	st := a.OK(append([]string{"list-package-versions"}, with("--status", "Disposed")...)...)
	if n := len(proxytest.Pick(st, "versions").([]any)); n != 1 {
		t.Fatalf("list-package-versions --status Disposed: %v", st)
	}

	// Copy references into dest.
	cp := []string{"copy-package-versions", "--domain", "acme", "--source-repository", "app", "--destination-repository", "dest", "--format", "cargo", "--package", "demo"}
	r = a.OK(append(cp, "--versions", "1.0.0")...)
	if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Published" {
		t.Fatalf("copy-package-versions: %v", r)
	}
	if code, body := get(t, in.URL+"/acme/cargo/dest/demo/1.0.0/demo-1.0.0.txt"); code != 200 || body != "internal demo 1.0.0\n" {
		t.Fatalf("a copied version from the destination: %d %q", code, body)
	}
	r = a.OK(append(cp, "--versions", "1.0.0")...)
	if proxytest.Pick(r, "failedVersions", "1.0.0", "errorCode") != "ALREADY_EXISTS" {
		t.Fatalf("copy over an existing version: %v", r)
	}
	r = a.OK(append(cp, "--versions", "1.0.0", "--allow-overwrite")...)
	if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Published" {
		t.Fatalf("copy --allow-overwrite: %v", r)
	}

	// Read an asset back through the control plane.
	outfile := filepath.Join(t.TempDir(), "asset")
	r = a.OK(append([]string{"get-package-version-asset"}, with("--package-version", "3.0.0", "--asset", "demo-3.0.0.txt", outfile)...)...)
	if got, _ := os.ReadFile(outfile); string(got) != "internal demo 3.0.0\n" || r["assetName"] != "demo-3.0.0.txt" || r["packageVersion"] != "3.0.0" || r["packageVersionRevision"] == "" {
		t.Fatalf("get-package-version-asset: %v %q", r, got)
	}
	a.Fails("ResourceNotFoundException", append([]string{"get-package-version-asset"}, with("--package-version", "3.0.0", "--asset", "nope.txt", outfile)...)...)
	r = a.OK(append([]string{"get-package-version-readme"}, with("--package-version", "3.0.0")...)...)
	if r["version"] != "3.0.0" || r["versionRevision"] == "" {
		t.Fatalf("get-package-version-readme: %v", r)
	}
	r = a.OK(append([]string{"list-package-version-dependencies"}, with("--package-version", "3.0.0")...)...)
	if deps, ok := r["dependencies"].([]any); !ok || len(deps) != 0 {
		t.Fatalf("list-package-version-dependencies: %v", r)
	}
	r = a.OK(append([]string{"describe-package-version"}, with("--package-version", "3.0.0")...)...)
	if proxytest.Pick(r, "packageVersion", "origin", "originType") != "INTERNAL" || proxytest.Pick(r, "packageVersion", "origin", "domainEntryPoint", "repositoryName") != "app" {
		t.Fatalf("describe-package-version: %v", r)
	}
}

func TestAWSCLIOriginControls(t *testing.T) {
	in, up, a := startLifecycle(t)
	up.Publish(t, "planned", "1.0.0", "5.0.0")
	pkg := []string{"--domain", "acme", "--repository", "app", "--format", "cargo", "--package", "planned"}
	with := func(extra ...string) []string { return append(append([]string{}, pkg...), extra...) }

	// Block a name before it exists: nothing of it comes from upstream.
	r := a.OK(append([]string{"put-package-origin-configuration"}, with("--restrictions", "publish=ALLOW,upstream=BLOCK")...)...)
	if proxytest.Pick(r, "originConfiguration", "restrictions", "upstream") != "BLOCK" {
		t.Fatalf("put-package-origin-configuration: %v", r)
	}
	d := a.OK(append([]string{"describe-package"}, with()...)...)
	if proxytest.Pick(d, "package", "originConfiguration", "restrictions", "publish") != "ALLOW" || proxytest.Pick(d, "package", "name") != "planned" {
		t.Fatalf("describe-package: %v", d)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/planned"); code != 404 {
		t.Fatalf("a blocked name resolved from upstream: %d", code)
	}
	l := a.OK("list-packages", "--domain", "acme", "--repository", "app", "--upstream", "BLOCK")
	if n := len(proxytest.Pick(l, "packages").([]any)); n != 1 {
		t.Fatalf("list-packages --upstream BLOCK: %v", l)
	}
	// Publishing into the blocked name works; publish=BLOCK refuses.
	publishToy(t, in, "app", "planned", "0.1.0")
	a.OK(append([]string{"put-package-origin-configuration"}, with("--restrictions", "publish=BLOCK,upstream=ALLOW")...)...)
	err := in.Server.Resolver().Publish(context.Background(), formats.RepoRef{Domain: "acme", Repository: "app"},
		formats.Package{Format: "cargo", Name: "planned"}, formats.Publication{Version: formats.Version{Version: "0.2.0"},
			Content: func(string) (io.Reader, error) { return strings.NewReader(""), nil }})
	if !errors.Is(err, formats.ErrNotAllowed) {
		t.Fatalf("publish with publish=BLOCK: %v", err)
	}
	// An administrator's upstream=ALLOW lifts the dependency-confusion guard.
	if _, body := get(t, in.URL+"/acme/cargo/app/planned"); body != `{"versions":["0.1.0","1.0.0","5.0.0"],"tags":{"latest":"5.0.0"}}` {
		t.Fatalf("after upstream=ALLOW by an administrator: %s", body)
	}

	r = a.OK(append([]string{"delete-package"}, with()...)...)
	if proxytest.Pick(r, "deletedPackage", "package") != "planned" {
		t.Fatalf("delete-package: %v", r)
	}
	a.Fails("ResourceNotFoundException", append([]string{"describe-package"}, with()...)...)
}

func TestAWSCLIGenericPackagesAndTags(t *testing.T) {
	_, _, a := startLifecycle(t)
	dir := t.TempDir()
	files := map[string][]byte{"a.txt": []byte("generic asset a\n"), "b.bin": bytes.Repeat([]byte{0, 1, 2, 255}, 100000)}
	pub := func(name string, extra ...string) map[string]any {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(files[name])
		args := []string{"publish-package-version", "--domain", "acme", "--repository", "dest", "--format", "generic", "--namespace", "tools",
			"--package", "bundle", "--package-version", "1.0.0", "--asset-content", path, "--asset-name", name, "--asset-sha256", hex.EncodeToString(sum[:])}
		return a.OK(append(args, extra...)...)
	}
	r := pub("a.txt", "--unfinished")
	if r["status"] != "Unfinished" || proxytest.Pick(r, "asset", "size") != float64(len(files["a.txt"])) {
		t.Fatalf("publish-package-version --unfinished: %v", r)
	}
	r = pub("b.bin")
	if r["status"] != "Published" {
		t.Fatalf("publish-package-version: %v", r)
	}
	a.Fails("ValidationException", "publish-package-version", "--domain", "acme", "--repository", "dest", "--format", "generic", "--namespace", "tools",
		"--package", "bundle", "--package-version", "1.0.1", "--asset-content", filepath.Join(dir, "a.txt"), "--asset-name", "a.txt",
		"--asset-sha256", strings.Repeat("0", 64))
	for name, want := range files {
		out := filepath.Join(dir, "out-"+name)
		a.OK("get-package-version-asset", "--domain", "acme", "--repository", "dest", "--format", "generic", "--namespace", "tools",
			"--package", "bundle", "--package-version", "1.0.0", "--asset", name, out)
		if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
			t.Fatalf("generic asset %s read back: %d bytes, want %d", name, len(got), len(want))
		}
	}
	l := a.OK("list-package-version-assets", "--domain", "acme", "--repository", "dest", "--format", "generic", "--namespace", "tools", "--package", "bundle", "--package-version", "1.0.0")
	if n := len(proxytest.Pick(l, "assets").([]any)); n != 2 {
		t.Fatalf("list-package-version-assets: %v", l)
	}

	arn := "arn:aws:codeartifact:stockpile:000000000000:repository/acme/dest"
	a.OK("tag-resource", "--resource-arn", arn, "--tags", "key=team,value=platform", "key=cost,value=42")
	a.OK("untag-resource", "--resource-arn", arn, "--tag-keys", "cost")
	tags := a.OK("list-tags-for-resource", "--resource-arn", arn)
	if diff := cmp.Diff([]any{map[string]any{"key": "team", "value": "platform"}}, tags["tags"]); diff != "" {
		t.Fatalf("tags (-want +got):\n%s", diff)
	}
	a.OK("tag-resource", "--resource-arn", "arn:aws:codeartifact:stockpile:000000000000:domain/acme", "--tags", "key=env,value=ci")
	if n := len(proxytest.Pick(a.OK("list-tags-for-resource", "--resource-arn", "arn:aws:codeartifact:stockpile:000000000000:domain/acme"), "tags").([]any)); n != 1 {
		t.Fatal("domain tags not kept")
	}
	a.Fails("ResourceNotFoundException", "list-tags-for-resource", "--resource-arn", "arn:aws:codeartifact:stockpile:000000000000:repository/acme/ghost")
}
