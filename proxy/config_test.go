package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../config.example.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	def := Defaults()
	if cfg.Listen != def.Listen || cfg.DataDir != def.DataDir || cfg.ShutdownTimeout != def.ShutdownTimeout ||
		cfg.Auth.TokenTTL != def.Auth.TokenTTL || cfg.MaxPublishSize != def.MaxPublishSize || cfg.Storage.GCInterval != def.Storage.GCInterval || cfg.Storage.BlobGCInterval != def.Storage.BlobGCInterval || cfg.Storage.BlobGCGrace != def.Storage.BlobGCGrace {
		t.Errorf("example config does not show the defaults: %+v", cfg)
	}
	npm := cfg.Connections["public:npmjs"]
	if npm.TTL != 5*time.Minute || npm.NegativeTTL != time.Minute || npm.MaxConcurrent != 16 || npm.Retries != 2 {
		t.Errorf("public:npmjs options do not show the defaults: %+v", npm)
	}
	if len(cfg.Domains) != 1 || len(cfg.Domains[0].Repositories) != 3 {
		t.Fatalf("domains = %+v", cfg.Domains)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		"STOCKPILE_LISTEN":         "127.0.0.1:9999",
		"STOCKPILE_DATA_DIR":       "/tmp/x",
		"STOCKPILE_BASE_URL":       "https://pkgs.example.test",
		"STOCKPILE_LOG_LEVEL":      "debug",
		"STOCKPILE_NPMJS_URL":      "http://127.0.0.1:1/",
		"STOCKPILE_ANONYMOUS_READ": "true",
	}
	cfg, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Listen, cfg.DataDir, cfg.BaseURL, cfg.LogLevel, cfg.Connections["public:npmjs"].URL}
	want := []string{"127.0.0.1:9999", "/tmp/x", "https://pkgs.example.test", "debug", "http://127.0.0.1:1/"}
	if diff := cmp.Diff(want, got); diff != "" || !cfg.Auth.AnonymousRead {
		t.Fatalf("overrides (-want +got):\n%s anonymous=%v", diff, cfg.Auth.AnonymousRead)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every fragment must appear in the error
	}{
		{"unknown key", "listen: 127.0.0.1:1\nlisen: x\n", []string{"line 2", "lisen"}},
		{"unknown nested key", "auth:\n  anonymous_reads: true\n", []string{"line 2", "anonymous_reads"}},
		{"publish_times", "external_connections:\n  \"public:maven-central\": {publish_times: pom}\n", []string{"line 2", `publish_times "pom" must be metadata or last_modified`}},
		{"two connections on one repository", "domains:\n  - name: acme\n    repositories:\n      - name: store\n        external_connection: public:pypi\n        external_connection: public:npmjs\n", []string{"line 6", "already defined"}},
		{"everything at once", `
domains:
  - name: Acme
    repositories:
      - name: app
        upstreams: [ghost, team]
      - name: team
        upstreams: [app]
      - name: x
        external_connection: public:nowhere
external_connections:
  "public:elsewhere": {url: "http://127.0.0.1:1/"}
`, []string{
			`line 3: domain name "Acme" is invalid`,
			`line 6: repository app: upstream "ghost" is not a repository`,
			"cycle: app → team → app",
			`line 10: repository x: external connection "public:nowhere"`,
			`line 12: external connection "public:elsewhere"`,
		}},
		{"names no record key may hold", "domains:\n  - name: \"a\\0b\"\n    repositories:\n      - name: \"x\\ey\"\n",
			[]string{`line 2: domain name "a\x00b" is invalid`, `line 4: repository name "x\x1by" is invalid`}},
		{"bad cooldown", "domains:\n  - name: acme\n    repositories:\n      - name: app\n        cooldown: {min_age: 7d, mode: block, missing_time: maybe, exempt: [npm]}\n",
			[]string{"line 5: repository app", `mode "block"`, `missing_time "maybe"`, `pattern "npm"`}},
		{"cooldown min_age unreadable", "domains:\n  - name: acme\n    repositories:\n      - name: app\n        cooldown: {min_age: a week}\n",
			[]string{"line 5", `duration "a week"`}},
		{"bad domain lists", "domains:\n  - name: acme\n    firewall:\n      block: [{package: npm/x, reason: r}]\n      allow: [{package: \"/npm//y$\"}]\n",
			[]string{"line 3: domain acme: firewall", "block[0]", "allow[0]: a reason is required"}},
		{"osv refresh too short", "firewall:\n  osv:\n    path: /srv/osv\n    refresh: 1s\n", []string{"line 4: firewall.osv.refresh"}},
		{"bad values", "listen: nope\nlog_level: loud\nauth:\n  token_ttl: 13h\n", []string{"line 1: listen", "line 2: log_level", "line 4: auth.token_ttl"}},
		{"unknown backend", "storage:\n  backend: mysql\n", []string{"line 2: storage.backend \"mysql\" must be badger or postgres"}},
		{"postgres without its keys", "storage:\n  backend: postgres\n  s3:\n    cache_size: 0\n    endpoint: \"ftp://x\"\n    part_size: 1MiB\n", []string{
			"storage.postgres.dsn", "storage.s3.bucket", "storage.s3.cache_dir", "line 4: storage.s3.cache_size",
			"line 5: storage.s3.endpoint", "line 6: storage.s3.part_size"}},
		{"abandoned uploads aborted too soon", "storage:\n  backend: postgres\n  postgres: {dsn: x}\n  s3:\n    bucket: b\n    cache_dir: /c\n    abandoned_upload_age: 10m\n",
			[]string{"line 7: storage.s3.abandoned_upload_age"}},
		{"bad size", "storage:\n  s3:\n    cache_size: lots\n", []string{`size "lots"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, func(string) string { return "" })
			if err == nil {
				t.Fatal("loaded a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestListenForcedToLoopbackWithoutKeys(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		keys   []AccessKey
		want   string
		forced bool
	}{
		{"any address without keys", ":8080", nil, "127.0.0.1:8080", true},
		{"public address without keys", "0.0.0.0:8080", nil, "127.0.0.1:8080", true},
		{"loopback without keys", "127.0.0.1:8080", nil, "127.0.0.1:8080", false},
		{"any address with keys", ":8080", []AccessKey{{ID: "a", Secret: "b"}}, ":8080", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Listen, c.Auth.AccessKeys = tc.listen, tc.keys
			got, forced := c.ListenAddr()
			if got != tc.want || forced != tc.forced {
				t.Fatalf("got %s %v, want %s %v", got, forced, tc.want, tc.forced)
			}
		})
	}
}
