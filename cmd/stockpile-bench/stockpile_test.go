package main

import (
	"os"
	"path/filepath"
	"testing"

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
	if got := cfg.Connections[npmJSConnection].URL; got != "http://127.0.0.1:18081/" {
		t.Errorf("public:npmjs url %q", got)
	}
	if len(cfg.Domains) != 1 || cfg.Domains[0].Name != benchDomain || len(cfg.Domains[0].Repositories) != 2 {
		t.Fatalf("domains %+v", cfg.Domains)
	}
	repos := cfg.Domains[0].Repositories
	if repos[0].Name != benchStoreRepo || repos[0].ExternalConnection != npmJSConnection ||
		repos[1].Name != benchAppRepo || len(repos[1].Upstreams) != 1 || repos[1].Upstreams[0] != benchStoreRepo {
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
