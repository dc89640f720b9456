package proxy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig loads arbitrary files as configuration: a bad file is an
// error, never a panic, and a file that loads is valid.
func FuzzConfig(f *testing.F) {
	if b, err := os.ReadFile("../config.example.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("domains:\n  - name: acme\n    repositories:\n      - {name: app, upstreams: [app]}\n"))
	f.Add([]byte("listen: [1, 2]\nauth: {access_keys: [{id: a}]}\n"))
	f.Add([]byte("external_connections: {\"public:npmjs\": {url: \"ftp://x\", ttl: -1s}}\n"))
	f.Add([]byte("\t: :\n- ]"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, func(string) string { return "" })
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("Load accepted a configuration Validate refuses: %v", verr)
			}
		}
	})
}
