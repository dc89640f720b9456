package pypi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"lower case", "Django", "django"},
		{"underscore", "pigeon_cli", "pigeon-cli"},
		{"dot", "pigeon.cli", "pigeon-cli"},
		{"run of separators", "Stock_Pile.Demo", "stock-pile-demo"},
		{"mixed run", "a-_.-b", "a-b"},
		{"zope", "zope.interface", "zope-interface"},
		{"already normal", "dep-b", "dep-b"},
		{"digits", "Py3_Foo", "py3-foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normalizeName(tt.in); got != tt.want {
				t.Fatalf("normalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizer(t *testing.T) {
	got := New().Normalize(formats.Package{Format: "pypi", Namespace: "x", Name: "Stock_Pile.Demo"})
	want := formats.Package{Format: "pypi", Name: "stock-pile-demo"}
	if got != want {
		t.Fatalf("Normalize = %+v, want %+v", got, want)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name, in string
		want     bool
	}{
		{"simple", "requests", true},
		{"separators inside", "Stock_Pile.Demo", true},
		{"leading dash", "-foo", false},
		{"trailing dot", "foo.", false},
		{"space", "foo bar", false},
		{"slash", "foo/bar", false},
		{"empty", "", false},
		{"unicode", "fóo", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validName(tt.in); got != tt.want {
				t.Fatalf("validName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFilename(t *testing.T) {
	tests := []struct {
		name, file, project string
		want                distFile
		wantErr             bool
	}{
		{name: "wheel", file: "demo_pkg-1.0.0-py3-none-any.whl",
			want: distFile{Name: "demo_pkg", Version: "1.0.0", Kind: kindWheel, PyVersion: "py3"}},
		{name: "wheel with dots (wheel 0.38)", file: "Stock_Pile.Demo-2.0.0rc1-py3-none-any.whl",
			want: distFile{Name: "Stock_Pile.Demo", Version: "2.0.0rc1", Kind: kindWheel, PyVersion: "py3"}},
		{name: "wheel with build tag", file: "foo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl",
			want: distFile{Name: "foo", Version: "1.0", Kind: kindWheel, PyVersion: "cp311"}},
		{name: "sdist", file: "Stock_Pile.Demo-1.0.0.tar.gz", project: "stock-pile-demo",
			want: distFile{Name: "Stock_Pile.Demo", Version: "1.0.0", Kind: kindSdist, PyVersion: "source"}},
		{name: "legacy sdist with dashes", file: "foo-bar-1.0.zip", project: "foo-bar",
			want: distFile{Name: "foo-bar", Version: "1.0", Kind: kindSdist, PyVersion: "source"}},
		{name: "sdist without project", file: "foo-bar-1.0.tar.gz",
			want: distFile{Name: "foo-bar", Version: "1.0", Kind: kindSdist, PyVersion: "source"}},
		{name: "egg", file: "foo-1.0-py3.8.egg",
			want: distFile{Name: "foo", Version: "1.0", Kind: kindEgg, PyVersion: "3.8"}},
		{name: "bad wheel", file: "foo-1.0.whl", wantErr: true},
		{name: "unknown extension", file: "foo-1.0.exe", wantErr: true},
		{name: "path", file: "../foo-1.0.tar.gz", wantErr: true},
		{name: "no version", file: "foo.tar.gz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFilename(tt.file, tt.project)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFilename(%q) error %v, wantErr %v", tt.file, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
				t.Fatalf("parseFilename(%q) (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestPathEscape(t *testing.T) {
	if got := pathEscape("1.0+local.1"); got != "1.0%2Blocal.1" {
		t.Fatalf("pathEscape = %q", got)
	}
}
