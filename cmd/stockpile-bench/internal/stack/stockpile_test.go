package stack

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
)

// The generated configuration must load in Stockpile itself.
func TestStockpileConfigLoads(t *testing.T) {
	dir := t.TempDir()
	raw, err := StockpileConfig{Listen: "127.0.0.1:18080", DataDir: filepath.Join(dir, "data"), Upstream: "http://127.0.0.1:18081/"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stockpile.yaml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := proxy.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatalf("proxy.Load: %v\n%s", err, raw)
	}
	if cfg.Listen != "127.0.0.1:18080" || cfg.LogLevel != "warn" || !cfg.Open() {
		t.Errorf("listen %q, log level %q, open %v", cfg.Listen, cfg.LogLevel, cfg.Open())
	}
	if got := cfg.Connections[NPMJSConnection].URL; got != "http://127.0.0.1:18081/" {
		t.Errorf("public:npmjs url %q", got)
	}
	if len(cfg.Domains) != 1 || cfg.Domains[0].Name != Domain || len(cfg.Domains[0].Repositories) != 2 {
		t.Fatalf("domains %+v", cfg.Domains)
	}
	repos := cfg.Domains[0].Repositories
	if repos[0].Name != StoreRepo || repos[0].ExternalConnection != NPMJSConnection ||
		repos[1].Name != AppRepo || len(repos[1].Upstreams) != 1 || repos[1].Upstreams[0] != StoreRepo {
		t.Errorf("repositories %+v", repos)
	}
}

func TestStockpileEnvDropsOverrides(t *testing.T) {
	t.Setenv("STOCKPILE_NPMJS_URL", "http://127.0.0.1:1/")
	for _, kv := range stockpileEnv() {
		if len(kv) >= 10 && kv[:10] == "STOCKPILE_" {
			t.Errorf("environment keeps %s", kv)
		}
	}
}

// A configuration with other formats' stores loads in Stockpile, and app
// reaches them all.
func TestStockpileConfigStoresLoads(t *testing.T) {
	dir := t.TempDir()
	for _, npm := range []bool{true, false} {
		c := StockpileConfig{Listen: "127.0.0.1:18080", DataDir: filepath.Join(dir, "data"), TTL: 2 * time.Hour,
			Stores: []StoreConfig{
				{Repository: "pypi-store", Connection: "public:pypi", URL: "http://127.0.0.1:18081/simple/"},
				{Repository: "nuget-store", Connection: "public:nuget-org", URL: "http://127.0.0.1:18081/v3/index.json"},
			}}
		if npm {
			c.Upstream = "http://127.0.0.1:18081/"
		}
		raw, err := c.Render()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "stockpile.yaml")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := proxy.Load(p, func(string) string { return "" })
		if err != nil {
			t.Fatalf("proxy.Load: %v\n%s", err, raw)
		}
		if got := cfg.Connections["public:pypi"]; got.URL != "http://127.0.0.1:18081/simple/" || got.TTL != 2*time.Hour {
			t.Errorf("public:pypi %+v", got)
		}
		repos := cfg.Domains[0].Repositories
		app := repos[len(repos)-1]
		want := 2
		if npm {
			want = 3
		}
		if app.Name != AppRepo || len(app.Upstreams) != want || len(repos) != want+1 {
			t.Errorf("npm %v: repositories %+v", npm, repos)
		}
		if _, hasNPM := cfg.Connections[NPMJSConnection]; hasNPM != npm {
			t.Errorf("npm %v: connections %+v", npm, cfg.Connections)
		}
	}
	if _, err := (StockpileConfig{Listen: "127.0.0.1:1", DataDir: dir}).Render(); err == nil {
		t.Error("no upstream at all accepted")
	}
}

// TestStockpileConfigDeployedLoads: the deployed configuration (an access
// key, log level info) is one Stockpile loads, and not open.
func TestStockpileConfigDeployedLoads(t *testing.T) {
	dir := t.TempDir()
	key := NewAccessKey()
	raw, err := StockpileConfig{Listen: "127.0.0.1:18080", DataDir: filepath.Join(dir, "data"), Upstream: "http://127.0.0.1:18081/",
		LogLevel: "info", AccessKey: key}.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stockpile.yaml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := proxy.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatalf("proxy.Load: %v\n%s", err, raw)
	}
	if cfg.Open() || cfg.LogLevel != "info" || len(cfg.Auth.AccessKeys) != 1 ||
		cfg.Auth.AccessKeys[0].ID != key.ID || cfg.Auth.AccessKeys[0].Secret != key.Secret {
		t.Errorf("open %v, log level %q, keys %+v; want the key %s at info", cfg.Open(), cfg.LogLevel, cfg.Auth.AccessKeys, key.ID)
	}
	if other := NewAccessKey(); other.ID == key.ID || other.Secret == key.Secret {
		t.Error("two runs share an access key")
	}
}
