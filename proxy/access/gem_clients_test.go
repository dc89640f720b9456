package access_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/rubygems"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// buildGem runs `gem build` for name-version in a fresh directory and
// returns the .gem's path.
func buildGem(t *testing.T, gem, name, version string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", name+".rb"), []byte("module Mx; VALUE = 42; end\n"), 0o644)
	spec := "Gem::Specification.new do |s|\n  s.name = \"" + name + "\"\n  s.version = \"" + version + "\"\n" +
		"  s.summary = \"matrix fixture\"\n  s.authors = [\"Stockpile\"]\n  s.license = \"MIT\"\n  s.files = [\"lib/" + name + ".rb\"]\nend\n"
	os.WriteFile(filepath.Join(dir, name+".gemspec"), []byte(spec), 0o644)
	cmd := exec.Command(gem, "build", name+".gemspec")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gem build: %v\n%s", err, out)
	}
	return filepath.Join(dir, name+"-"+version+".gem")
}

func TestMatrixGem(t *testing.T) {
	gem := proxytest.RequireTool(t, "gem")
	in := matrixServer(t, rubygems.New())
	run := func(ok bool, env []string, args ...string) string {
		t.Helper()
		home := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gem, args...)
		cmd.Dir = home
		cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8",
			"GEM_HOME=" + filepath.Join(home, "gems"), "GEM_PATH=" + filepath.Join(home, "gems"), "GEM_SPEC_CACHE=" + filepath.Join(home, "specs")}, env...)
		out, err := cmd.CombinedOutput()
		if (err == nil) != ok {
			t.Fatalf("gem %s: err=%v, want success=%v\n%s", strings.Join(args, " "), err, ok, out)
		}
		return string(out)
	}
	push := func(key string, ok bool, repo, file string) string {
		t.Helper()
		return run(ok, []string{"GEM_HOST_API_KEY=Bearer " + in.TokenFor("acme", key)}, "push", file, "--host", in.URL+"/acme/ruby/"+repo)
	}
	// refused pushes a new gem that key may not push to repo; gem must show
	// want from the refusal.
	refused := func(t *testing.T, key, repo, name, version, want string) {
		t.Helper()
		out := push(key, false, repo, buildGem(t, gem, name, version))
		if !strings.Contains(out, want) {
			t.Fatalf("gem does not show the refusal:\n%s", out)
		}
	}
	push("AKIAADMIN", true, "app", buildGem(t, gem, "mxgem", "1.0.0"))

	t.Run("reader installs through app", func(t *testing.T) {
		u, _ := url.Parse(in.URL + "/acme/ruby/app/")
		u.User = url.UserPassword("aws", in.TokenFor("acme", "AKIAREADER"))
		out := run(true, nil, "install", "mxgem", "-v", "1.0.0", "--clear-sources", "--source", u.String(), "--no-document")
		if !strings.Contains(out, "Successfully installed mxgem-1.0.0") {
			t.Fatalf("gem install:\n%s", out)
		}
	})
	t.Run("reader push is refused with a 403", func(t *testing.T) {
		refused(t, "AKIAREADER", "app", "mxreader", "1.0.0", "codeartifact:PublishPackageVersion")
	})
	t.Run("publisher pushes to internal", func(t *testing.T) {
		push("AKIAPUB", true, "internal", buildGem(t, gem, "mxpub", "1.0.0"))
	})
	t.Run("publisher is refused on app", func(t *testing.T) {
		refused(t, "AKIAPUB", "app", "mxpub", "1.0.1", "package/acme/app/ruby//mxpub")
	})
	t.Run("explicit deny on a package beats the identity allow", func(t *testing.T) {
		refused(t, "AKIAPUB", "internal", "mxfrozen", "1.0.0", "explicit deny")
	})
}
