package storage_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage"
)

// FuzzRecordKey feeds arbitrary names to the key builders. A key is either
// refused with an error wrapping ErrInvalidKey or it splits back into
// exactly the parts it was built from; a package's versions prefix matches
// the version keys of that package and of no other, and two different
// coordinates never make the same key.
func FuzzRecordKey(f *testing.F) {
	f.Add("acme", "npm", "babel", "core", "7.0.0", "", "core", "7.0.0")
	f.Add("acme", "generic", "lib", "x", "1", "lib\x00x", "", "1")
	f.Add("acme", "generic", "a", "b\x00c", "1", "a\x00b", "c", "1")
	f.Add("acme", "maven", "org.example", "app", "1.0", "org.example", "app2", "1.0")
	f.Add("acme", "pypi", "", "app", "1.0\x00x", "", "app", "1.0")
	f.Add("acme", "npm", "", "lib\xff", "\u0085", "", "lib\t", strings.Repeat("v", storage.MaxPartLen+1))
	f.Fuzz(func(t *testing.T, domain, format, ns1, name1, ver1, ns2, name2, ver2 string) {
		p1 := storage.PackageKey{Domain: domain, RepoID: "r1", Format: format, Namespace: ns1, Name: name1}
		p2 := storage.PackageKey{Domain: domain, RepoID: "r1", Format: format, Namespace: ns2, Name: name2}
		k1, ok1 := buildChecked(t, p1.VersionKey(ver1), "v", domain, "r1", format, ns1, name1, ver1)
		k2, ok2 := buildChecked(t, p2.VersionKey(ver2), "v", domain, "r1", format, ns2, name2, ver2)
		buildChecked(t, p1, "p", domain, "r1", format, ns1, name1)
		buildChecked(t, storage.DocumentKey{Conn: domain, URL: name1, Accept: ver1}, "u", domain, name1, ver1)
		if !ok1 || !ok2 {
			return
		}
		same := ns1 == ns2 && name1 == name2
		if (same && ver1 == ver2) != bytes.Equal(k1, k2) {
			t.Fatalf("(%q %q %q) and (%q %q %q) make keys %q and %q", ns1, name1, ver1, ns2, name2, ver2, k1, k2)
		}
		prefix, err := p1.VersionsPrefix()
		if err != nil {
			t.Fatalf("VersionsPrefix of a package whose version key was built: %v", err)
		}
		if !bytes.HasPrefix(k1, prefix) {
			t.Fatalf("versions prefix %q does not match its own version %q", prefix, k1)
		}
		if bytes.HasPrefix(k2, prefix) != same {
			t.Fatalf("versions prefix of (%q %q) matches %q of (%q %q): %v", ns1, name1, k2, ns2, name2, !same)
		}
	})
}

// buildChecked builds k and checks it: refused only with a KeyError, and
// then exactly when a part or the whole is unacceptable; otherwise split
// back into space and parts.
func buildChecked(t *testing.T, k interface{ Bytes() ([]byte, error) }, space string, parts ...string) ([]byte, bool) {
	t.Helper()
	key, err := k.Bytes()
	valid := 1+len(parts)+sumLen(parts) <= storage.MaxKeyLen
	for _, p := range parts {
		valid = valid && storage.CheckPart("part", p) == nil
	}
	if err != nil {
		var ke *storage.KeyError
		if !errors.As(err, &ke) || !errors.Is(err, storage.ErrInvalidKey) {
			t.Fatalf("%T refused with %v, not a KeyError", k, err)
		}
		if valid {
			t.Fatalf("%T of acceptable parts refused: %v", k, err)
		}
		return nil, false
	}
	if !valid {
		t.Fatalf("%T of unacceptable parts %q built %q", k, parts, key)
	}
	gotSpace, got := storage.SplitKey(key)
	if gotSpace != space || !slices.Equal(got, parts) {
		t.Fatalf("%T %q splits into %q %q, want %q %q", k, key, gotSpace, got, space, parts)
	}
	return key, true
}

func sumLen(parts []string) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}

// TestCheckPart checks what CheckPart refuses by itself, so that the fuzz
// target's oracle (which is CheckPart) is known to refuse what it must.
func TestCheckPart(t *testing.T) {
	tests := []struct {
		name, part string
		ok         bool
	}{
		{"empty", "", true},
		{"ascii", "org.example:lib-2_x", true},
		{"unicode", "名前", true},
		{"longest", strings.Repeat("é", storage.MaxPartLen/2), true},
		{"nul", "a\x00", false},
		{"escape", "\x1b[31m", false},
		{"del", "\x7f", false},
		{"c1", "\u009b", false},
		{"invalid-utf8", "\xc3", false},
		{"too-long", strings.Repeat("a", storage.MaxPartLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := storage.CheckPart("part", tt.part); (err == nil) != tt.ok {
				t.Errorf("CheckPart = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
