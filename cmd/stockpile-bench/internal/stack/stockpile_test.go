package stack

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
)

// loadConfig writes cfg as StartStockpile does and loads it as Stockpile
// does: the generated configuration must load in Stockpile itself.
func loadConfig(t *testing.T, cfg proxy.Config) *proxy.Config {
	t.Helper()
	cfg.Listen = "127.0.0.1:18080"
	p := filepath.Join(t.TempDir(), "stockpile.yaml")
	if err := writeConfig(p, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := proxy.Load(p, func(string) string { return "" })
	if err != nil {
		raw, _ := os.ReadFile(p)
		t.Fatalf("proxy.Load: %v\n%s", err, raw)
	}
	return got
}

func TestStockpileConfigLoads(t *testing.T) {
	cfg := loadConfig(t, Config(filepath.Join(t.TempDir(), "data"), StoreConfig{"npm-store", NPMJSConnection, "http://127.0.0.1:18081/", 0}))
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
	if repos[0].Name != "npm-store" || repos[0].ExternalConnection != NPMJSConnection ||
		repos[1].Name != AppRepo || len(repos[1].Upstreams) != 1 || repos[1].Upstreams[0] != "npm-store" {
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
// reaches them all, in order.
func TestStockpileConfigStoresLoads(t *testing.T) {
	cfg := loadConfig(t, Config(filepath.Join(t.TempDir(), "data"),
		StoreConfig{"pypi-store", "public:pypi", "http://127.0.0.1:18081/simple/", 2 * time.Hour},
		StoreConfig{"nuget-store", "public:nuget-org", "http://127.0.0.1:18081/v3/index.json", 0}))
	if got := cfg.Connections["public:pypi"]; got.URL != "http://127.0.0.1:18081/simple/" || got.TTL != 2*time.Hour {
		t.Errorf("public:pypi %+v", got)
	}
	repos := cfg.Domains[0].Repositories
	app := repos[len(repos)-1]
	if app.Name != AppRepo || len(repos) != 3 || len(app.Upstreams) != 2 || app.Upstreams[0] != "pypi-store" || app.Upstreams[1] != "nuget-store" {
		t.Errorf("repositories %+v", repos)
	}
	if _, hasNPM := cfg.Connections[NPMJSConnection]; hasNPM {
		t.Errorf("connections %+v: public:npmjs without its store", cfg.Connections)
	}
}

// TestStockpileConfigDeployedLoads: the deployed configuration (an access
// key, log level info, as Stack.Up makes it) is one Stockpile loads, and
// not open.
func TestStockpileConfigDeployedLoads(t *testing.T) {
	key := newAccessKey()
	c := Config(filepath.Join(t.TempDir(), "data"), StoreConfig{"npm-store", NPMJSConnection, "http://127.0.0.1:18081/", 0})
	c.Auth.AccessKeys, c.LogLevel = []proxy.AccessKey{key}, "info"
	cfg := loadConfig(t, c)
	if cfg.Open() || cfg.LogLevel != "info" || len(cfg.Auth.AccessKeys) != 1 ||
		cfg.Auth.AccessKeys[0].ID != key.ID || cfg.Auth.AccessKeys[0].Secret != key.Secret {
		t.Errorf("open %v, log level %q, keys %+v; want the key %s at info", cfg.Open(), cfg.LogLevel, cfg.Auth.AccessKeys, key.ID)
	}
	if other := newAccessKey(); other.ID == key.ID || other.Secret == key.Secret {
		t.Error("two runs share an access key")
	}
}
