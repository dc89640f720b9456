package upstream_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stockpile-proxy/stockpile/upstream"
)

func TestCatalog(t *testing.T) {
	want := []struct{ name, format string }{
		{"public:npmjs", "npm"},
		{"public:pypi", "pypi"},
		{"public:maven-central", "maven"},
		{"public:maven-googleandroid", "maven"},
		{"public:maven-gradleplugins", "maven"},
		{"public:maven-commonsware", "maven"},
		{"public:maven-clojars", "maven"},
		{"public:nuget-org", "nuget"},
		{"public:ruby-gems-org", "ruby"},
		{"public:crates-io", "cargo"},
	}
	got := upstream.Catalog()
	if len(got) != len(want) {
		t.Fatalf("Catalog() has %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		t.Run(w.name, func(t *testing.T) {
			c := got[i]
			if c.Name != w.name || c.Format != w.format {
				t.Fatalf("entry %d = %s/%s, want %s/%s", i, c.Name, c.Format, w.name, w.format)
			}
			if w.format == "npm" {
				if c.DefaultURL != "" {
					t.Fatalf("npm connection has a default URL")
				}
				return
			}
			u, err := url.Parse(c.DefaultURL)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				t.Fatalf("DefaultURL %q is not an absolute https URL", c.DefaultURL)
			}
			l, ok := upstream.Lookup(w.name)
			if !ok || !reflect.DeepEqual(l, c) {
				t.Fatalf("Lookup(%q) = %+v, %v; want %+v", w.name, l, ok, c)
			}
		})
	}
}

func TestCatalogIsFresh(t *testing.T) {
	a := upstream.Catalog()
	a[1].DefaultURL = "https://changed.example/"
	b := upstream.Catalog()
	if b[1].DefaultURL != "https://pypi.org/simple/" {
		t.Fatalf("modifying one Catalog() result changed the next: %q", b[1].DefaultURL)
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{"", "npmjs", "public:NPMJS", "public:maven"} {
		if c, ok := upstream.Lookup(name); ok || !reflect.DeepEqual(c, upstream.Connection{}) {
			t.Errorf("Lookup(%q) = %+v, %v; want zero, false", name, c, ok)
		}
	}
}

func TestEnvVar(t *testing.T) {
	tests := []struct{ name, want string }{
		{"public:npmjs", "STOCKPILE_NPMJS_URL"},
		{"public:maven-central", "STOCKPILE_MAVEN_CENTRAL_URL"},
		{"public:ruby-gems-org", "STOCKPILE_RUBY_GEMS_ORG_URL"},
		{"public:crates-io", "STOCKPILE_CRATES_IO_URL"},
	}
	var got, want []string
	for _, tt := range tests {
		c, _ := upstream.Lookup(tt.name)
		got = append(got, c.EnvVar())
		want = append(want, tt.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("EnvVar mismatch (-want +got):\n%s", diff)
	}
}
