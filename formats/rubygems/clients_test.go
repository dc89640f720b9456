package rubygems

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Real clients: Debian's `ruby` (gem, RubyGems 3.3) and `ruby-bundler`
// (Bundler 2.3), each run with its own HOME, GEM_HOME, caches and Bundler
// settings, against Stockpile on loopback only.

// rubyClient is an isolated gem and Bundler environment.
type rubyClient struct {
	dir string
	env []string
}

func newRubyClient(t *testing.T, e *env) *rubyClient {
	t.Helper()
	proxytest.RequireTool(t, "gem")
	proxytest.RequireTool(t, "bundle")
	dir := t.TempDir()
	c := &rubyClient{dir: dir}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GEM_"), strings.HasPrefix(k, "BUNDLE_"), strings.HasPrefix(k, "RUBY"),
			strings.EqualFold(k, "http_proxy"), strings.EqualFold(k, "https_proxy"), strings.EqualFold(k, "no_proxy"),
			k == "HOME", k == "XDG_CACHE_HOME", k == "XDG_CONFIG_HOME", k == "XDG_DATA_HOME":
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env,
		"HOME="+filepath.Join(dir, "home"),
		"GEM_HOME="+filepath.Join(dir, "gems"),
		"GEM_PATH="+filepath.Join(dir, "gems"),
		"GEM_SPEC_CACHE="+filepath.Join(dir, "specs"),
		"BUNDLE_USER_HOME="+filepath.Join(dir, "bundle-home"),
		"BUNDLE_USER_CACHE="+filepath.Join(dir, "bundle-cache"),
		"BUNDLE_APP_CONFIG="+filepath.Join(dir, "bundle-config"),
		"BUNDLE_PATH="+filepath.Join(dir, "vendor"),
		"BUNDLE_DISABLE_SHARED_GEMS=true",
		"BUNDLE_SILENCE_ROOT_WARNING=true",
		"BUNDLE_RETRY=0",
		"LANG=C.UTF-8",
	)
	if e.token != "" {
		// Bundler's credentials for a host: dots as "__".
		c.env = append(c.env, "BUNDLE_127__0__0__1=aws:"+e.token)
	}
	for _, d := range []string{"home", "gems", "project"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	return c
}

// run runs a client command in the project directory and returns its
// combined output; a failure fails the test.
func (c *rubyClient) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := c.try(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (c *rubyClient) try(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx(t), name, args...)
	cmd.Dir = filepath.Join(c.dir, "project")
	cmd.Env = append(append([]string(nil), c.env...), "PWD="+cmd.Dir)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// withCredentials returns a source URL carrying the token, as gem takes it.
func (e *env) withCredentials(repo string) string {
	u, _ := url.Parse(e.url(repo))
	if e.token != "" {
		u.User = url.UserPassword("aws", e.token)
	}
	return u.String()
}

func (c *rubyClient) gemfile(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, "project", "Gemfile"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c *rubyClient) lockfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "project", "Gemfile.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gemList returns `gem list --local` of the client's GEM_HOME.
func (c *rubyClient) gemList(t *testing.T) string {
	t.Helper()
	return c.run(t, "gem", "list", "--local", "--no-details")
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func mustNotContain(t *testing.T, what, text string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(text, b) {
			t.Errorf("%s has %q:\n%s", what, b, text)
		}
	}
}

// gemfileFor is a Gemfile whose only source is a Stockpile repository;
// Bundler finds the token in BUNDLE_127__0__0__1.
func gemfileFor(source string, gems ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "source %q\n", source)
	for _, g := range gems {
		b.WriteString("gem " + g + "\n")
	}
	return b.String()
}

// gem install of the fixture set through app → team → ruby-store, with
// credentials in the source URL.
func TestGemInstallThroughGraph(t *testing.T) {
	runGemInstall(t, startEnv(t, envOptions{auth: true}))
}

// TestGemInstallReplicas is the gem install scenario through a load
// balancer over three replicas on PostgreSQL and SeaweedFS.
func TestGemInstallReplicas(t *testing.T) {
	runGemInstall(t, startEnv(t, envOptions{auth: true, replicas: 3}))
}

func runGemInstall(t *testing.T, e *env) {
	c := newRubyClient(t, e)
	src := e.withCredentials("app")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a gem with a dependency resolved to the platform gem", []string{"demo_gem", "-v", "1.0.0"}, []string{"Successfully installed rack-lite-2.0.1-x86_64-linux", "Successfully installed demo_gem-1.0.0"}},
		{"a pre-release", []string{"demo_gem", "--pre"}, []string{"Successfully installed demo_gem-1.1.0.pre.1"}},
		{"a name with a dash, the ruby platform", []string{"rack-lite", "-v", "2.0.0"}, []string{"Successfully installed rack-lite-2.0.0"}},
		{"a public gem no one published inside", []string{"acme-secret"}, []string{"Successfully installed acme-secret-2.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"install"}, tc.args...)
			out := c.run(t, "gem", append(args, "--clear-sources", "--source", src, "--no-document", "-V")...)
			mustContain(t, "gem install", out, tc.want...)
			// The compact index, not the legacy full index.
			mustContain(t, "gem install", out, "HEAD http://aws:REDACTED@127.0.0.1", "/acme/ruby/app/info/")
			mustNotContain(t, "gem install", out, "specs.4.8.gz")
		})
	}
	mustContain(t, "gem list", c.gemList(t), "acme-secret (2.0.0)", "demo_gem (1.1.0.pre.1, 1.0.0)", "rack-lite (2.0.1 x86_64-linux, 2.0.0)")
	// Each gem came from the upstream once, whichever replica was asked.
	for _, f := range []string{"rack-lite-2.0.1-x86_64-linux.gem", "demo_gem-1.0.0.gem", "demo_gem-1.1.0.pre.1.gem", "rack-lite-2.0.0.gem", "acme-secret-2.0.0.gem"} {
		if n := e.src.Fake.Hits("/gems/" + f); n != 1 {
			t.Errorf("%s fetched from the upstream %d times, want 1", f, n)
		}
	}
	t.Run("gem sources --add and gem search -r read the legacy index", func(t *testing.T) {
		c.run(t, "gem", "sources", "--clear-all")
		c.run(t, "gem", "sources", "--remove", "https://rubygems.org/")
		mustContain(t, "gem sources --add", c.run(t, "gem", "sources", "--add", src), "added to sources")
		mustContain(t, "gem search -r", c.run(t, "gem", "search", "-r", "demo"), "demo_gem (1.0.0)")
		mustContain(t, "gem search -r --pre", c.run(t, "gem", "search", "-r", "--pre", "demo"), "demo_gem (1.1.0.pre.1)")
	})
}

// bundle install of the set through app, credentials from BUNDLE_<HOST>.
func TestBundleInstallThroughGraph(t *testing.T) {
	runBundleInstall(t, startEnv(t, envOptions{auth: true}))
}

// TestBundleInstallReplicas is the Bundler scenario through a load balancer
// over three replicas on PostgreSQL and SeaweedFS.
func TestBundleInstallReplicas(t *testing.T) {
	runBundleInstall(t, startEnv(t, envOptions{auth: true, replicas: 3}))
}

func runBundleInstall(t *testing.T, e *env) {
	c := newRubyClient(t, e)
	c.gemfile(t, gemfileFor(e.url("app"), `"demo_gem"`, `"rack-lite"`, `"acme-secret"`))
	out := c.run(t, "bundle", "install", "--verbose")
	mustContain(t, "bundle install", out, "/acme/ruby/app/versions", "/acme/ruby/app/info/demo_gem", "Bundle complete!")
	mustNotContain(t, "bundle install", out, "specs.4.8.gz", "dependencies?gems")
	lock := c.lockfile(t)
	mustContain(t, "Gemfile.lock", lock, "remote: "+e.url("app"), "demo_gem (1.0.0)", "rack-lite (>= 2.0, < 4)", "rack-lite (2.0.1-x86_64-linux)", "acme-secret (2.0.0)")
	mustNotContain(t, "Gemfile.lock", lock, e.token)

	// Warm client cache: Bundler revalidates its copies with Range and
	// If-None-Match, and resolves the pre-release from them.
	c.gemfile(t, gemfileFor(e.url("app"), `"demo_gem", ">= 1.1.0.pre"`, `"rack-lite"`, `"acme-secret"`))
	out = c.run(t, "bundle", "install", "--verbose")
	mustContain(t, "bundle install (warm)", out, "Bundle complete!")
	mustNotContain(t, "bundle install (warm)", out, "does not match the checksum", "specs.4.8.gz")
	mustContain(t, "Gemfile.lock", c.lockfile(t), "demo_gem (1.1.0.pre.1)", "rack-lite (~> 2.0)")
}

// gem push of an internal gem to internal (with GEM_HOST_API_KEY, then a
// credentials file), bundle install through app locking the internal
// version although the upstream has a higher one, then gem yank.
func TestPushLockAndYank(t *testing.T) {
	e := startEnv(t, envOptions{auth: true})
	c := newRubyClient(t, e)
	host := strings.TrimSuffix(e.url("internal"), "/") // gem push --host takes no trailing slash
	write := func(g *builtGem) string {
		p := filepath.Join(c.dir, "project", g.file)
		if err := os.WriteFile(p, g.body, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("gem push with GEM_HOST_API_KEY", func(t *testing.T) {
		out, err := c.try(t, "env", "GEM_HOST_API_KEY=Bearer "+e.token, "gem", "push", write(fixture(t, "acme-secret", "1.0.0")), "--host", host)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, "gem push", out, "Successfully registered gem: acme-secret (1.0.0)")
	})
	t.Run("gem push with the credentials file", func(t *testing.T) {
		cred := filepath.Join(c.dir, "home", ".gem", "credentials")
		os.MkdirAll(filepath.Dir(cred), 0o700)
		if err := os.WriteFile(cred, []byte(fmt.Sprintf("---\n%q: Bearer %s\n", host, e.token)), 0o600); err != nil {
			t.Fatal(err)
		}
		out := c.run(t, "gem", "push", write(fixture(t, "acme-secret", "1.1.0")), "--host", host)
		mustContain(t, "gem push", out, "Successfully registered gem: acme-secret (1.1.0)")
		// Again: a conflict the client reports.
		out, err := c.try(t, "gem", "push", write(fixture(t, "acme-secret", "1.1.0")), "--host", host)
		if err == nil {
			t.Errorf("pushing an existing version succeeded:\n%s", out)
		}
		mustContain(t, "gem push", out, "already exists")
	})
	t.Run("bundle install through app locks the internal version", func(t *testing.T) {
		c.gemfile(t, gemfileFor(e.url("app"), `"acme-secret"`))
		mustContain(t, "bundle install", c.run(t, "bundle", "install"), "Bundle complete!")
		lock := c.lockfile(t)
		mustContain(t, "Gemfile.lock", lock, "acme-secret (1.1.0)")
		mustNotContain(t, "Gemfile.lock", lock, "acme-secret (2.0.0)")
	})
	t.Run("gem yank, then a fresh resolution locks the remaining version", func(t *testing.T) {
		out := c.run(t, "gem", "yank", "acme-secret", "-v", "1.1.0", "--host", host)
		mustContain(t, "gem yank", out, "Successfully deleted gem: acme-secret (1.1.0)")
		// Bundler would pick the installed 1.1.0 again: drop the installed
		// gems and the lock, keep its compact index cache, which it
		// brings up to date (Range and digests) and then trusts.
		os.Remove(filepath.Join(c.dir, "project", "Gemfile.lock"))
		os.RemoveAll(filepath.Join(c.dir, "vendor"))
		out = c.run(t, "bundle", "install", "--verbose")
		mustContain(t, "bundle install", out, "Bundle complete!")
		mustNotContain(t, "bundle install", out, "does not match the checksum", "specs.4.8.gz")
		lock := c.lockfile(t)
		mustContain(t, "Gemfile.lock", lock, "acme-secret (1.0.0)")
		mustNotContain(t, "Gemfile.lock", lock, "acme-secret (1.1.0)", "acme-secret (2.0.0)")
	})
}

// The upstream stopped and Stockpile restarted: a fresh bundle install (and
// gem install) with empty client caches succeeds from what Stockpile kept.
func TestInstallWithUpstreamStopped(t *testing.T) {
	e := startEnv(t, envOptions{auth: true, ttl: time.Millisecond})
	gemfile := gemfileFor(e.url("app"), `"demo_gem"`, `"acme-secret"`)
	warm := newRubyClient(t, e)
	warm.gemfile(t, gemfile)
	warm.run(t, "bundle", "install")

	e.src.Fake.Close()
	e.in.Restart()
	before := e.src.Fake.Hits("/versions")

	cold := newRubyClient(t, e)
	cold.gemfile(t, gemfile)
	mustContain(t, "bundle install", cold.run(t, "bundle", "install", "--verbose"), "Bundle complete!")
	mustContain(t, "Gemfile.lock", cold.lockfile(t), "demo_gem (1.0.0)", "rack-lite (2.0.1-x86_64-linux)", "acme-secret (2.0.0)")
	// gem install needs the quick gemspecs Bundler never fetched: they are
	// generated from the kept .gem files.
	out := cold.run(t, "gem", "install", "demo_gem", "-v", "1.0.0", "--clear-sources", "--source", e.withCredentials("app"), "--no-document")
	mustContain(t, "gem install", out, "Successfully installed demo_gem-1.0.0")
	if after := e.src.Fake.Hits("/versions"); after != before {
		t.Errorf("the stopped upstream was reached: %d → %d", before, after)
	}
}
