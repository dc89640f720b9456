package cargo

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestNormalize(t *testing.T) {
	f := New()
	for _, tc := range []struct{ in, want string }{
		{"serde", "serde"},
		{"Serde_JSON", "serde_json"},
		{"long-crate-name", "long_crate_name"},
		{"Mixed_Case-Name", "mixed_case_name"},
		{"a", "a"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := f.Normalize(formats.Package{Format: "cargo", Name: tc.in})
			if got != (formats.Package{Format: "cargo", Name: tc.want}) {
				t.Fatalf("Normalize(%q) = %+v, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestIndexPath(t *testing.T) {
	for _, tc := range []struct{ name, path, prefix string }{
		{"a", "1/a", "1"},
		{"cc", "2/cc", "2"},
		{"syn", "3/s/syn", "3/s"},
		{"c_d", "3/c/c_d", "3/c"},
		{"serde", "se/rd/serde", "se/rd"},
		{"demo-crate", "de/mo/demo-crate", "de/mo"},
		{"Mixed_Case", "mi/xe/mixed_case", "Mi/xe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := indexPath(tc.name); got != tc.path {
				t.Errorf("indexPath = %q, want %q", got, tc.path)
			}
			if got := indexDir(tc.name); got != tc.prefix {
				t.Errorf("indexDir = %q, want %q", got, tc.prefix)
			}
		})
	}
}

func TestParseIndexPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs []string
		want string
		ok   bool
	}{
		{"one", []string{"1", "a"}, "a", true},
		{"two", []string{"2", "cc"}, "cc", true},
		{"three", []string{"3", "s", "syn"}, "syn", true},
		{"four and more", []string{"se", "rd", "serde"}, "serde", true},
		{"upper case", []string{"SE", "rd", "Serde"}, "serde", true},
		{"wrong bucket", []string{"2", "syn"}, "syn", false},
		{"wrong first letter", []string{"3", "x", "syn"}, "syn", false},
		{"wrong pair", []string{"se", "rx", "serde"}, "serde", false},
		{"too short for pairs", []string{"se", "r", "ser"}, "ser", false},
		{"bad characters", []string{"2", "a."}, "", false},
		{"traversal", []string{"..", "..", "etc"}, "", false},
		{"too many segments", []string{"a", "b", "c", "d"}, "", false},
		{"single segment", []string{"serde"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseIndexPath(tc.segs)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("parseIndexPath(%q) = %q, %v; want %q, %v", tc.segs, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCheckPublishName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"long-crate_Name9", true},
		{"", false},
		{"9lives", false},
		{"-dash", false},
		{"has space", false},
		{"dot.name", false},
		{"nul", false},
		{"proc-macro", false},
		{string(make([]byte, 65)), false},
		{"a234567890123456789012345678901234567890123456789012345678901234", true},
		{"a2345678901234567890123456789012345678901234567890123456789012345", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkPublishName(tc.name); (err == nil) != tc.ok {
				t.Fatalf("checkPublishName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestSpellings(t *testing.T) {
	for _, tc := range []struct {
		name, canon, hint string
		want              []string
	}{
		{"plain", "serde", "", []string{"serde"}},
		{"underscores first without a hint", "long_crate_name", "", []string{"long_crate_name", "long-crate-name"}},
		{"the client's spelling first", "long_crate_name", "Long-Crate-Name", []string{"long-crate-name", "long_crate_name"}},
		{"mixed spelling", "a_b_c", "a-b_c", []string{"a-b_c", "a_b_c", "a-b-c"}},
		{"hint of another crate is ignored", "a_b", "other", []string{"a_b", "a-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.hint != "" {
				ctx = withSpelling(ctx, tc.hint)
			}
			if diff := cmp.Diff(tc.want, spellings(ctx, tc.canon)); diff != "" {
				t.Fatalf("spellings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDownloadURL(t *testing.T) {
	const sum = "a27c66cf1ed4d46ba3da41d65cb9d46a96bb0358e8cdd8a98674a0ed5fd3dda1"
	for _, tc := range []struct {
		name, dl, crate, want string
	}{
		{"crates.io, no marker", "https://static.crates.io/crates", "Demo-Crate", "https://static.crates.io/crates/Demo-Crate/1.0.0/download"},
		{"no marker, trailing slash", "http://h/api/v1/crates/", "serde", "http://h/api/v1/crates/serde/1.0.0/download"},
		{"crate and version", "http://h/f/{crate}/{crate}-{version}.crate", "Demo-Crate", "http://h/f/Demo-Crate/Demo-Crate-1.0.0.crate"},
		{"prefix keeps case", "http://h/{prefix}/{crate}", "Demo-Crate", "http://h/De/mo/Demo-Crate"},
		{"lowerprefix", "http://h/{lowerprefix}/{crate}", "Demo-Crate", "http://h/de/mo/Demo-Crate"},
		{"short names", "http://h/{prefix}/{crate}", "ab", "http://h/2/ab"},
		{"three letters", "http://h/{lowerprefix}/{crate}", "Syn", "http://h/3/s/Syn"},
		{"checksum", "http://h/by-sum/{sha256-checksum}", "x", "http://h/by-sum/" + sum},
		{"relative", "crates/{crate}/{version}", "x", "crates/x/1.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := downloadURL(tc.dl, tc.crate, "1.0.0", sum); got != tc.want {
				t.Fatalf("downloadURL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSemver(t *testing.T) {
	valid := []string{"0.0.0", "1.2.3", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "10.20.30"}
	invalid := []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "v1.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-a..b", "1.2.3-é", " 1.2.3"}
	for _, v := range valid {
		if _, ok := parseSemver(v); !ok {
			t.Errorf("parseSemver(%q) failed", v)
		}
	}
	for _, v := range invalid {
		if _, ok := parseSemver(v); ok {
			t.Errorf("parseSemver(%q) accepted", v)
		}
	}
	ordered := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0+build", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := 0; i+1 < len(ordered); i++ {
		if c := compareVersions(ordered[i], ordered[i+1]); c >= 0 {
			t.Errorf("compareVersions(%q, %q) = %d, want < 0", ordered[i], ordered[i+1], c)
		}
		if c := compareVersions(ordered[i+1], ordered[i]); c <= 0 {
			t.Errorf("compareVersions(%q, %q) = %d, want > 0", ordered[i+1], ordered[i], c)
		}
	}
	if withoutBuild("1.0.0+abc") != "1.0.0" || withoutBuild("1.0.0-rc.1") != "1.0.0-rc.1" {
		t.Error("withoutBuild")
	}
}
