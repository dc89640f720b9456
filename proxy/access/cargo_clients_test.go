package access_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// crate writes a library crate with the given [dependencies] lines.
func crate(t *testing.T, name, version string, deps ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	manifest := fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\ndescription = \"matrix fixture\"\nlicense = \"MIT\"\n\n[dependencies]\n%s\n", name, version, strings.Join(deps, "\n"))
	os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte(manifest), 0o644)
	os.WriteFile(filepath.Join(dir, "src", "lib.rs"), []byte("pub fn f() {}\n"), 0o644)
	return dir
}

func TestMatrixCargo(t *testing.T) {
	bin := proxytest.RequireTool(t, "cargo")
	in := matrixServer(t, cargo.New())
	// cargoAs runs cargo with a fresh CARGO_HOME whose registries "app" and
	// "internal" are the two repositories, with key's token.
	cargoAs := func(key string) func(ok bool, dir string, args ...string) string {
		home := t.TempDir()
		cfg := fmt.Sprintf("[registries.app]\nindex = \"sparse+%[1]s/acme/cargo/app/\"\ncredential-provider = [\"cargo:token\"]\n\n"+
			"[registries.internal]\nindex = \"sparse+%[1]s/acme/cargo/internal/\"\ncredential-provider = [\"cargo:token\"]\n\n"+
			"[net]\nretry = 0\n\n[publish]\ntimeout = 20\n", in.URL)
		os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o644)
		tok := in.TokenFor("acme", key)
		var env []string
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "CARGO_") && !strings.HasPrefix(k, "RUSTUP_TOOLCHAIN") {
				env = append(env, kv)
			}
		}
		env = append(env, "CARGO_HOME="+home, "CARGO_TERM_COLOR=never", "CARGO_NET_RETRY=0", "NO_PROXY=127.0.0.1,localhost",
			"CARGO_REGISTRIES_APP_TOKEN="+tok, "CARGO_REGISTRIES_INTERNAL_TOKEN="+tok)
		return func(ok bool, dir string, args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			if (err == nil) != ok {
				t.Fatalf("cargo %s: err=%v, want success=%v\n%s", strings.Join(args, " "), err, ok, out)
			}
			return string(out)
		}
	}
	admin, reader, publisher := cargoAs("AKIAADMIN"), cargoAs("AKIAREADER"), cargoAs("AKIAPUB")
	publish := []string{"publish", "--no-verify", "--allow-dirty", "--registry"}
	admin(true, crate(t, "mxcrate", "1.0.0"), append(publish, "app")...)

	t.Run("reader fetches through app", func(t *testing.T) {
		dir := crate(t, "consumer", "0.1.0", `mxcrate = { version = "=1.0.0", registry = "app" }`)
		reader(true, dir, "generate-lockfile")
		reader(true, dir, "fetch")
		b, _ := os.ReadFile(filepath.Join(dir, "Cargo.lock"))
		if !strings.Contains(string(b), `name = "mxcrate"`) {
			t.Fatalf("Cargo.lock:\n%s", b)
		}
	})
	t.Run("reader publish is refused with a 403", func(t *testing.T) {
		out := reader(false, crate(t, "mxreader", "1.0.0"), append(publish, "app")...)
		if !strings.Contains(out, "403") || !strings.Contains(out, "codeartifact:PublishPackageVersion") {
			t.Fatalf("cargo does not show the 403:\n%s", out)
		}
	})
	t.Run("publisher publishes to internal", func(t *testing.T) {
		publisher(true, crate(t, "mxpub", "1.0.0"), append(publish, "internal")...)
	})
	t.Run("publisher is refused on app", func(t *testing.T) {
		out := publisher(false, crate(t, "mxpub", "1.0.1"), append(publish, "app")...)
		if !strings.Contains(out, "403") || !strings.Contains(out, "package/acme/app/cargo//mxpub") {
			t.Fatalf("cargo does not show the 403:\n%s", out)
		}
	})
	t.Run("explicit deny on a package beats the identity allow", func(t *testing.T) {
		out := publisher(false, crate(t, "mxfrozen", "1.0.0"), append(publish, "internal")...)
		if !strings.Contains(out, "403") || !strings.Contains(out, "explicit deny") {
			t.Fatalf("cargo does not show the 403:\n%s", out)
		}
	})
}
