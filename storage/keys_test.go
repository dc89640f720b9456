package storage_test

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage"
)

func TestKeyBuilders(t *testing.T) {
	pkg := storage.PackageKey{Domain: "acme", RepoID: "r1", Format: "npm", Namespace: "@babel", Name: "core"}
	doc := storage.DocumentKey{Conn: "public:npmjs", URL: "https://example.com/a", Accept: "application/json"}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		key   []byte
		space string
		parts []string
	}{
		{"domain", must(storage.DomainKey{Domain: "acme"}.Bytes()), "d", []string{"acme"}},
		{"repository", must(storage.RepositoryKey{Domain: "acme", Name: "main"}.Bytes()), "r", []string{"acme", "main"}},
		{"package", must(pkg.Bytes()), "p", []string{"acme", "r1", "npm", "@babel", "core"}},
		{"package-no-namespace", must(storage.PackageKey{Domain: "acme", RepoID: "r1", Format: "pypi", Name: "flask"}.Bytes()), "p", []string{"acme", "r1", "pypi", "", "flask"}},
		{"version", must(pkg.VersionKey("7.0.0").Bytes()), "v", []string{"acme", "r1", "npm", "@babel", "core", "7.0.0"}},
		{"document", must(doc.Bytes()), "u", []string{"public:npmjs", "https://example.com/a", "application/json"}},
		{"revalidated", must(doc.Revalidated()), "t", []string{"public:npmjs", "https://example.com/a", "application/json"}},
		{"group", must(storage.GroupKey{Domain: "acme", Pattern: "/npm/*"}.Bytes()), "g", []string{"acme", "/npm/*"}},
		{"state", must(storage.StateKey{Name: "token-key"}.Bytes()), "s", []string{"token-key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			space, parts := storage.SplitKey(tt.key)
			if space != tt.space || !slices.Equal(parts, tt.parts) {
				t.Errorf("SplitKey = %q %q, want %q %q", space, parts, tt.space, tt.parts)
			}
		})
	}
}

func TestKeyPrefixes(t *testing.T) {
	pkg := storage.PackageKey{Domain: "acme", RepoID: "r1", Format: "npm", Name: "app"}
	sibling := storage.PackageKey{Domain: "acme", RepoID: "r1", Format: "npm", Name: "app2"}
	other := storage.PackageKey{Domain: "acme", RepoID: "r10", Format: "npm", Name: "app"}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		prefix []byte
		key    []byte
		want   bool
	}{
		{"versions-of-package", must(pkg.VersionsPrefix()), must(pkg.VersionKey("1.0").Bytes()), true},
		{"versions-not-of-longer-sibling", must(pkg.VersionsPrefix()), must(sibling.VersionKey("1.0").Bytes()), false},
		{"versions-not-package-record", must(pkg.VersionsPrefix()), must(pkg.Bytes()), false},
		{"repository-packages", must(storage.RepositoryPackagesPrefix("acme", "r1", "")), must(pkg.Bytes()), true},
		{"repository-packages-not-longer-id", must(storage.RepositoryPackagesPrefix("acme", "r1", "")), must(other.Bytes()), false},
		{"format-packages", must(storage.RepositoryPackagesPrefix("acme", "r1", "npm")), must(pkg.Bytes()), true},
		{"format-packages-other-format", must(storage.RepositoryPackagesPrefix("acme", "r1", "pypi")), must(pkg.Bytes()), false},
		{"repository-versions", must(storage.RepositoryVersionsPrefix("acme", "r1")), must(pkg.VersionKey("1.0").Bytes()), true},
		{"repository-versions-not-longer-id", must(storage.RepositoryVersionsPrefix("acme", "r1")), must(other.VersionKey("1.0").Bytes()), false},
		{"domain-versions", must(storage.DomainVersionsPrefix("acme")), must(other.VersionKey("1.0").Bytes()), true},
		{"domain-versions-not-longer-domain", must(storage.DomainVersionsPrefix("acm")), must(other.VersionKey("1.0").Bytes()), false},
		{"all-versions", storage.VersionsPrefix(), must(pkg.VersionKey("1.0").Bytes()), true},
		{"all-packages", storage.PackagesPrefix(), must(pkg.Bytes()), true},
		{"all-packages-not-versions", storage.PackagesPrefix(), must(pkg.VersionKey("1.0").Bytes()), false},
		{"domains", storage.DomainsPrefix(), must(storage.DomainKey{Domain: "acme"}.Bytes()), true},
		{"repositories", storage.RepositoriesPrefix(), must(storage.RepositoryKey{Domain: "acme", Name: "x"}.Bytes()), true},
		{"groups", storage.GroupsPrefix(), must(storage.GroupKey{Domain: "acme", Pattern: "/*"}.Bytes()), true},
		{"documents", storage.DocumentsPrefix(), must(storage.DocumentKey{Conn: "c", URL: "u"}.Bytes()), true},
		{"revalidations", storage.RevalidationsPrefix(), must(storage.DocumentKey{Conn: "c", URL: "u"}.Revalidated()), true},
		{"documents-not-revalidations", storage.DocumentsPrefix(), must(storage.DocumentKey{Conn: "c", URL: "u"}.Revalidated()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bytes.HasPrefix(tt.key, tt.prefix); got != tt.want {
				t.Errorf("%q has prefix %q: %v, want %v", tt.key, tt.prefix, got, tt.want)
			}
		})
	}
}

func TestKeyRefusesBadParts(t *testing.T) {
	pkg := func(namespace, name string) storage.PackageKey {
		return storage.PackageKey{Domain: "acme", RepoID: "r1", Format: "generic", Namespace: namespace, Name: name}
	}
	long := strings.Repeat("a", storage.MaxPartLen)
	tests := []struct {
		name  string
		key   storage.VersionKey
		field string // "" when the key is acceptable
	}{
		{"plain", pkg("ns", "lib").VersionKey("1.0"), ""},
		{"unicode", pkg("ns", "bibliothèque").VersionKey("1.0"), ""},
		{"longest-part", pkg("", long).VersionKey("1.0"), ""},
		{"nul-in-name", pkg("ns", "lib\x00x").VersionKey("1.0"), "package name"},
		{"nul-in-namespace", pkg("ns\x00lib", "x").VersionKey("1.0"), "namespace"},
		{"nul-in-version", pkg("ns", "lib").VersionKey("1.0\x00"), "version"},
		{"newline", pkg("ns", "lib\nx").VersionKey("1.0"), "package name"},
		{"tab", pkg("ns", "lib\tx").VersionKey("1.0"), "package name"},
		{"del", pkg("ns", "lib\x7f").VersionKey("1.0"), "package name"},
		{"c1-control", pkg("ns", "lib\u0085").VersionKey("1.0"), "package name"},
		{"invalid-utf8", pkg("ns", "lib\xff").VersionKey("1.0"), "package name"},
		{"part-too-long", pkg("", long+"a").VersionKey("1.0"), "package name"},
		{"key-too-long", storage.PackageKey{Domain: long, RepoID: "r", Format: "npm", Namespace: long, Name: long}.VersionKey(long), "name"},
		{"nul-in-domain", storage.PackageKey{Domain: "a\x00b", RepoID: "r", Format: "npm", Name: "x"}.VersionKey("1"), "domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := tt.key.Bytes()
			if tt.field == "" {
				if err != nil || tt.key.Check() != nil || tt.key.PackageKey.Check() != nil {
					t.Fatalf("Bytes = %v, Check = %v", err, tt.key.Check())
				}
				return
			}
			var ke *storage.KeyError
			if !errors.As(err, &ke) || !errors.Is(err, storage.ErrInvalidKey) || ke.Field != tt.field || key != nil {
				t.Fatalf("Bytes = %q, %v; want a KeyError about the %s", key, err, tt.field)
			}
			if cerr := tt.key.Check(); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check = %v, want %v", cerr, err)
			}
			if len(err.Error()) > 200 {
				t.Errorf("the error repeats the part: %d bytes", len(err.Error()))
			}
		})
	}
}

// TestOnlyBuildersMakeRecordKeys keeps the layout in one place: no package
// outside storage joins record keys itself with storage.Key or
// storage.Prefix (storage's own conformance tests do, to test backends with
// keys of any shape).
func TestOnlyBuildersMakeRecordKeys(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel("..", path); rel == "storage" || strings.HasPrefix(d.Name(), ".") && path != ".." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "storage" && (sel.Sel.Name == "Key" || sel.Sel.Name == "Prefix") {
				t.Errorf("%s: storage.%s: build record keys with storage's typed builders", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
