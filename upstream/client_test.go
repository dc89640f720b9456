package upstream_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/upstream"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		conns map[string]upstream.Options
		want  []string
	}{
		{
			name:  "unknown names all listed",
			conns: map[string]upstream.Options{"public:nope": {}, "npmjs": {}, "public:pypi": {}},
			want:  []string{`"public:nope"`, `"npmjs"`},
		},
		{
			name:  "invalid options",
			conns: map[string]upstream.Options{"public:pypi": {URL: "ftp://x/"}, "public:crates-io": {Retries: -1}},
			want:  []string{`"public:pypi"`, "scheme", `"public:crates-io"`, "retries"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := upstream.New(tt.conns, nil)
			if err == nil {
				t.Fatalf("New() = %v, nil; want error", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func TestConnNotConfigured(t *testing.T) {
	c, err := upstream.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Conn("public:npmjs")
	if !errors.Is(err, upstream.ErrNotConfigured) {
		t.Fatalf("Conn(public:npmjs) error = %v, want ErrNotConfigured", err)
	}
	want := `external connection "public:npmjs" has no URL: set external_connections."public:npmjs".url in the config file or STOCKPILE_NPMJS_URL`
	if err.Error() != want {
		t.Fatalf("message = %q\nwant      %q", err, want)
	}
	if _, err := c.Conn("public:unknown"); err == nil || errors.Is(err, upstream.ErrNotConfigured) {
		t.Fatalf("Conn(unknown) error = %v, want a plain error", err)
	}
}

func TestConnSettings(t *testing.T) {
	c, err := upstream.New(map[string]upstream.Options{
		"public:npmjs":         {URL: "https://registry.internal.example/npm", TTL: 1},
		"public:nuget-org":     {MaxConcurrent: 3},
		"public:maven-clojars": {Offline: true},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, format, url string
		concurrent        int
	}{
		{"public:npmjs", "npm", "https://registry.internal.example/npm/", 16},
		{"public:pypi", "pypi", "https://pypi.org/simple/", 16},
		{"public:nuget-org", "nuget", "https://api.nuget.org/v3/index.json", 3},
		{"public:crates-io", "cargo", "https://index.crates.io/", 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cn, err := c.Conn(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if cn.Name() != tt.name || cn.Format() != tt.format || cn.URL() != tt.url || cn.Options().MaxConcurrent != tt.concurrent {
				t.Fatalf("got %s %s %s %d, want %s %s %s %d", cn.Name(), cn.Format(), cn.URL(), cn.Options().MaxConcurrent,
					tt.name, tt.format, tt.url, tt.concurrent)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	c, err := upstream.New(map[string]upstream.Options{"public:npmjs": {URL: "https://registry.example/npm/"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	npm, _ := c.Conn("public:npmjs")
	nuget, _ := c.Conn("public:nuget-org")
	tests := []struct {
		name    string
		conn    *upstream.Conn
		ref     string
		want    string
		wantErr bool
	}{
		{"relative", npm, "lodash", "https://registry.example/npm/lodash", false},
		{"scoped escaped", npm, "@types%2fnode", "https://registry.example/npm/@types%2fnode", false},
		{"empty is base", npm, "", "https://registry.example/npm/", false},
		{"host root", npm, "/-/v1/search", "https://registry.example/-/v1/search", false},
		{"absolute kept", npm, "https://files.example/a.tgz", "https://files.example/a.tgz", false},
		{"query kept", npm, "lodash?write=true", "https://registry.example/npm/lodash?write=true", false},
		{"nuget service index", nuget, "", "https://api.nuget.org/v3/index.json", false},
		{"nuget sibling", nuget, "registration/x/index.json", "https://api.nuget.org/v3/registration/x/index.json", false},
		// Refused when fetched (TestHostRules), not when resolved.
		{"other scheme kept", npm, "ftp://files.example/a", "ftp://files.example/a", false},
		{"bad ref", npm, "%zz", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.conn.Resolve(tt.ref)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q, error %v", tt.ref, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
