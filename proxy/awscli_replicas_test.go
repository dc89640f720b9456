package proxy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// TestAWSCLIReplicas drives the control plane with the AWS CLI over three
// replicas on PostgreSQL and SeaweedFS, each CLI bound to one replica and
// each step read through another replica than the one that wrote it: a
// domain, repositories, an external connection, the versions a replica
// fetched and a status change are seen by the CLI and by the data plane of
// the others (within the bound replicas promise: a notification, else the
// change counter polled every second), and a status guard on one replica
// sees the status another replica wrote.
func TestAWSCLIReplicas(t *testing.T) {
	up := proxytest.NewToyUpstream(t)
	up.Publish(t, "demo", "1.0.0", "2.0.0")
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIASTOCKPILETEST", Secret: "stockpile-secret"}}
	cfg.Auth.AnonymousRead = true
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/"}}
	_, replicas := proxytest.StartReplicas(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}, OpenStore: engines.SharedStore(t)}, 3)
	var cli []*proxytest.AWSCLI
	for _, r := range replicas {
		cli = append(cli, proxytest.NewAWSCLI(t, r, "AKIASTOCKPILETEST", "stockpile-secret"))
	}
	// seen waits until ok holds, as a replica applies another's change: it
	// asks again after each replica's reload.
	seen := func(what string, ok func() bool) {
		t.Helper()
		replicas[0].Events.Until(t, what, 10*time.Second, ok)
	}

	cli[0].OK("create-domain", "--domain", "acme")
	seen("replica 1 lists the domain replica 0 created", func() bool {
		l := cli[1].OK("list-domains")
		return proxytest.Pick(l, "domains", 0, "name") == "acme"
	})
	cli[1].OK("create-repository", "--domain", "acme", "--repository", "store")
	seen("replica 2 describes the repository replica 1 created", func() bool {
		_, err := cli[2].Run("stockpile-secret", "describe-repository", "--domain", "acme", "--repository", "store")
		return err == nil
	})
	cli[2].OK("associate-external-connection", "--domain", "acme", "--repository", "store", "--external-connection", "public:crates-io")
	seen("replica 0 sees the external connection replica 2 associated", func() bool {
		r := cli[0].OK("describe-repository", "--domain", "acme", "--repository", "store")
		return proxytest.Pick(r, "repository", "externalConnections", 0, "externalConnectionName") == "public:crates-io"
	})
	cli[0].OK("create-repository", "--domain", "acme", "--repository", "app", "--upstreams", "repositoryName=store")
	seen("replica 1 sees app's upstream", func() bool {
		_, err := cli[1].Run("stockpile-secret", "describe-repository", "--domain", "acme", "--repository", "app")
		return err == nil
	})

	// The data plane: each version's file through another replica.
	app := func(i int) string { return replicas[i].URL + "/acme/cargo/app/demo" }
	seen("replica 2 serves app's package from the upstream", func() bool {
		code, body := get(t, app(2))
		return code == 200 && body == `{"versions":["1.0.0","2.0.0"],"tags":{"latest":"2.0.0"}}`
	})
	for i, v := range []string{"1.0.0", "2.0.0"} {
		if code, body := get(t, app(i)+"/"+v+"/demo-"+v+".txt"); code != 200 || body != "the bytes of demo-"+v+".txt\n" {
			t.Fatalf("demo %s through replica %d: %d %q", v, i, code, body)
		}
	}

	pkg := proxytest.CLIPackage{Domain: "acme", Format: "cargo", Package: "demo"}
	statuses := func(a *proxytest.AWSCLI) map[string]string {
		out := a.OK(append([]string{"list-package-versions"}, pkg.Args("app")...)...)
		got := map[string]string{}
		for _, v := range proxytest.Pick(out, "versions").([]any) {
			got[proxytest.Pick(v, "version").(string)] = proxytest.Pick(v, "status").(string)
		}
		return got
	}
	l := cli[2].OK("list-packages", "--domain", "acme", "--repository", "app")
	if proxytest.Pick(l, "packages", 0, "package") != "demo" || len(proxytest.Pick(l, "packages").([]any)) != 1 {
		t.Fatalf("list-packages through replica 2: %v", l)
	}
	if diff := cmp.Diff(map[string]string{"1.0.0": "Published", "2.0.0": "Published"}, statuses(cli[0])); diff != "" {
		t.Fatalf("list-package-versions through replica 0 (-want +got):\n%s", diff)
	}
	d := cli[1].OK(append([]string{"describe-package-version"}, pkg.Args("app", "--package-version", "1.0.0")...)...)
	if proxytest.Pick(d, "packageVersion", "status") != "Published" || proxytest.Pick(d, "packageVersion", "origin", "originType") != "EXTERNAL" {
		t.Fatalf("describe-package-version through replica 1: %v", d)
	}

	// A status written through replica 0 is read by replica 1's CLI and
	// kept by replica 2's data plane, and replica 2's guard checks it.
	cli[0].SetStatus(t, pkg, "app", "1.0.0", "Unlisted")
	seen("replica 1 lists 1.0.0 as Unlisted", func() bool { return statuses(cli[1])["1.0.0"] == "Unlisted" })
	seen("replica 2 no longer offers 1.0.0", func() bool {
		code, body := get(t, app(2))
		return code == 200 && !strings.Contains(body, `"1.0.0"`)
	})
	r := cli[2].OK(append([]string{"update-package-versions-status"}, pkg.Args("app", "--versions", "1.0.0", "--expected-status", "Published", "--target-status", "Archived")...)...)
	if proxytest.Pick(r, "failedVersions", "1.0.0", "errorCode") != "MISMATCHED_STATUS" {
		t.Fatalf("replica 2's expected-status guard after replica 0's change: %v", r)
	}
	r = cli[2].OK(append([]string{"update-package-versions-status"}, pkg.Args("app", "--versions", "1.0.0", "--expected-status", "Unlisted", "--target-status", "Archived")...)...)
	if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Archived" {
		t.Fatalf("update-package-versions-status through replica 2: %v", r)
	}
	seen("replica 0 no longer serves the Archived 1.0.0", func() bool {
		code, _ := get(t, app(0)+"/1.0.0/demo-1.0.0.txt")
		return code == 404
	})
	if diff := cmp.Diff(map[string]string{"1.0.0": "Archived", "2.0.0": "Published"}, statuses(cli[1])); diff != "" {
		t.Fatalf("list-package-versions through replica 1 (-want +got):\n%s", diff)
	}

	// Each file came from the upstream once, whichever replica was asked.
	for _, f := range []string{"/files/demo-1.0.0.txt", "/files/demo-2.0.0.txt"} {
		if n := up.Fake.Hits(f); n != 1 {
			t.Errorf("%s fetched from the upstream %d times, want 1", f, n)
		}
	}
}
