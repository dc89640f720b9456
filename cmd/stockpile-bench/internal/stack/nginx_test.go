package stack

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

func TestNginxConfig(t *testing.T) {
	cfg := NginxConfig{Prefix: "/tmp/b/nginx", Root: "/tmp/b/www", Listen: "127.0.0.1:8081"}
	conf, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"daemon off;",
		"worker_processes auto;",
		"pid /tmp/b/nginx/nginx.pid;",
		"error_log /tmp/b/nginx/error.log warn;",
		"application/json json;",
		"application/octet-stream tgz;",
		"sendfile on;",
		"access_log off;",
		"listen 127.0.0.1:8081;",
		"root /tmp/b/www;",
		"default_type application/json;",
		"alias /tmp/b/www/.packuments/$pkg.json;",
		"client_body_temp_path /tmp/b/nginx/tmp/body;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "log_format") {
		t.Error("access log format without an access log")
	}
	if strings.Contains(conf, "limit_rate") {
		t.Error("a rate limit nobody asked for")
	}

	cfg.AccessLog, cfg.LimitRate = "/tmp/b/access.log", 100<<20
	conf, err = cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"limit_rate 104857600;", "access_log /tmp/b/access.log bench;", "log_format bench '$request_method $uri $status $body_bytes_sent';"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "access_log off") {
		t.Errorf("config has no access log:\n%s", conf)
	}

	cfg.AccessLog, cfg.CombinedLog = "", "/tmp/b/combined.log"
	conf, err = cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"access_log /tmp/b/combined.log combined buffer=64k;", "location ^~ /" + BaselineDir + "/ {", "gzip_static on;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "access_log off") || strings.Contains(conf, "log_format bench") {
		t.Errorf("the combined log alone: %s", conf)
	}

	for name, bad := range map[string]NginxConfig{
		"space in a path": {Prefix: "/p q", Root: "/r", Listen: "127.0.0.1:1"},
		"semicolon":       {Prefix: "/p", Root: "/r;", Listen: "127.0.0.1:1"},
	} {
		if _, err := bad.Render(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestNginxServesFixture runs the generated configuration through the real
// nginx when it is installed: `nginx -t`, then the packument's type and the
// tarball's bytes.
func TestNginxServesFixture(t *testing.T) {
	if _, err := os.Stat(DefaultNginx); err != nil {
		t.Skipf("nginx not installed (%s): apt-get install -y nginx", DefaultNginx)
	}
	dir, err := os.MkdirTemp("", "stockpile-bench-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := load.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + itoa(port)
	f, err := formattest.GenerateNPM(formattest.NPMOptions{Name: "nginx-test", Upstream: "http://" + listen, PackumentSize: 8 << 10, TarballSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "www")
	if err := fixture.WriteNPM(root, f); err != nil {
		t.Fatal(err)
	}
	cfg := NginxConfig{Prefix: filepath.Join(dir, "nginx"), Root: root, Listen: listen, AccessLog: filepath.Join(dir, "access.log")}
	log := slog.New(slog.DiscardHandler)
	c, err := StartNginx(context.Background(), DefaultNginx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { StopNginx(c) })
	if out, err := exec.Command(DefaultNginx, append([]string{"-t", "-q"}, nginxArgs(cfg)...)...).CombinedOutput(); err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}

	hc := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		path, ctype string
		body        []byte
	}{
		{f.PackumentPath(), "application/json", f.Packument},
		{f.TarballPath(), "application/octet-stream", f.Tarball},
	} {
		body, _, err := load.Fetch(context.Background(), hc, "http://"+listen+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != string(tc.body) {
			t.Errorf("GET %s: %d bytes, not the fixture's %d", tc.path, len(body), len(tc.body))
		}
		resp, err := hc.Head("http://" + listen + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
	}
	if _, _, err := load.Fetch(context.Background(), hc, "http://"+listen+"/absent", nil); err == nil {
		t.Error("GET /absent succeeded")
	}
	if err := StopNginx(c); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.AccessLog)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := ParseAccessLog(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// fetch and HEAD; StartNginx's probes go elsewhere.
	if got := counts[f.PackumentPath()]; got != 2 {
		t.Errorf("access log counts %d requests of the packument, want a GET and a HEAD:\n%s", got, raw)
	}
	if got := counts["/"+readyFile]; got < 1 {
		t.Errorf("access log counts %d requests of the readiness probe, want at least one", got)
	}
	if got := counts["/absent"]; got != 1 {
		t.Errorf("access log counts %d requests of /absent, want one", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
