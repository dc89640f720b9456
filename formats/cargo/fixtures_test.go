package cargo_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage/enginetest"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// The fixture crates are made once per test binary with the real `cargo
// package` (no build: --no-verify), in a directory TestMain removes.

var fixtureRoot string

// engines are PostgreSQL and SeaweedFS, started for the replicas test.
var engines *enginetest.Engines

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stockpile-cargo-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureRoot = dir
	os.Exit(enginetest.MainRemoving(m, &engines, &fixtureRoot))
}

// spec describes a fixture crate: its dependencies are other fixture crates
// (path dependencies with a version when packaged).
type spec struct {
	name, version string
	deps          []string
}

// crate is a packaged fixture crate.
type crate struct {
	spec
	bytes  []byte
	sha256 string
}

// The fixture workspaces. A workspace cannot hold two versions of a crate,
// so every version of long-crate-name comes from its own workspace.
var (
	chain = []spec{
		{name: "a", version: "0.1.0"},
		{name: "bb", version: "0.1.0", deps: []string{"a"}},
		{name: "c_d", version: "0.1.0", deps: []string{"bb"}},
	}
	workspaces = [][]spec{
		append(chain[:3:3],
			spec{name: "long-crate-name", version: "1.0.0", deps: []string{"c_d"}},
			spec{name: "Mixed_Case", version: "0.1.0"},
			spec{name: "acme-internal", version: "9.9.9"},
		),
		append(chain[:3:3], spec{name: "long-crate-name", version: "1.1.0", deps: []string{"c_d"}}, spec{name: "acme-internal", version: "0.1.0"}),
		append(chain[:3:3], spec{name: "long-crate-name", version: "1.2.0", deps: []string{"c_d"}}),
	}
)

var (
	fixturesOnce sync.Once
	fixtureSet   map[string]*crate // "name@version" → crate
	fixtureErr   error
)

// fixtures returns the fixture crates, making them on first use; tests
// without cargo are skipped (failed under STOCKPILE_E2E=require).
func fixtures(t *testing.T) map[string]*crate {
	t.Helper()
	cargoBin := proxytest.RequireTool(t, "cargo")
	fixturesOnce.Do(func() {
		fixtureSet, fixtureErr = makeFixtures(cargoBin, filepath.Join(fixtureRoot, "crates"))
	})
	if fixtureErr != nil {
		t.Fatalf("making fixture crates: %v", fixtureErr)
	}
	return fixtureSet
}

func fixture(t *testing.T, name, version string) *crate {
	t.Helper()
	c := fixtures(t)[name+"@"+version]
	if c == nil {
		t.Fatalf("no fixture crate %s@%s", name, version)
	}
	return c
}

func makeFixtures(cargoBin, root string) (map[string]*crate, error) {
	out := map[string]*crate{}
	home := filepath.Join(root, "cargo-home")
	for i, ws := range workspaces {
		dir := filepath.Join(root, fmt.Sprintf("ws%d", i))
		var members []string
		for _, s := range ws {
			members = append(members, fmt.Sprintf("%q", s.name))
			manifest := fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\ndescription = \"Stockpile fixture %s\"\nlicense = \"MIT\"\n\n[dependencies]\n", s.name, s.version, s.name)
			for _, d := range s.deps {
				manifest += fmt.Sprintf("%s = { path = \"../%s\", version = \"0.1\" }\n", d, d)
			}
			if err := writeFiles(filepath.Join(dir, s.name), map[string]string{
				"Cargo.toml": manifest,
				"src/lib.rs": fmt.Sprintf("//! %s %s\npub fn version() -> &'static str { %q }\n", s.name, s.version, s.version),
			}); err != nil {
				return nil, err
			}
		}
		if err := writeFiles(dir, map[string]string{
			"Cargo.toml": fmt.Sprintf("[workspace]\nmembers = [%s]\nresolver = \"2\"\n", strings.Join(members, ", ")),
		}); err != nil {
			return nil, err
		}
		cmd := exec.Command(cargoBin, "package", "--workspace", "--allow-dirty", "--no-verify", "--offline", "--quiet")
		cmd.Dir = dir
		cmd.Env = cargoEnv(home)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cargo package in %s: %v\n%s", dir, err, b)
		}
		for _, s := range ws {
			b, err := os.ReadFile(filepath.Join(dir, "target", "package", s.name+"-"+s.version+".crate"))
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(b)
			out[s.name+"@"+s.version] = &crate{spec: s, bytes: b, sha256: hex.EncodeToString(sum[:])}
		}
	}
	return out, nil
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cargoEnv is the environment of a cargo run: the test's own, less every
// CARGO_ variable and proxy setting, with home as CARGO_HOME.
func cargoEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CARGO_") || strings.HasPrefix(k, "RUSTUP_TOOLCHAIN") ||
			strings.EqualFold(k, "http_proxy") || strings.EqualFold(k, "https_proxy") || strings.EqualFold(k, "all_proxy") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"CARGO_HOME=" + home, "CARGO_TERM_COLOR=never", "CARGO_NET_RETRY=0", "NO_PROXY=127.0.0.1,localhost"}, extra...)...)
}
