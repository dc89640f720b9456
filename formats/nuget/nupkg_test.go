package nuget

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

func testNuspec(id, version, extra string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>` + id + `</id><version>` + version + `</version><authors>A</authors><description>D</description>` + extra + `
</metadata></package>`
}

// lyingZip holds one entry whose header declares fewer bytes than it
// inflates to.
func lyingZip(t *testing.T, name, body string, declared uint64) []byte {
	t.Helper()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	io.WriteString(fw, body)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE([]byte(body)),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

func TestReadNupkg(t *testing.T) {
	good := testNuspec("Contoso.Widgets", "01.2.0.0-Beta+sha.1", `<dependencies><group targetFramework="net8.0"><dependency id="Contoso.Core" version="[1.0.0, )"/></group></dependencies>`)
	small := Options{MaxEntries: 4, MaxUncompressed: 1 << 20, MaxNuspec: 64 << 10}.withDefaults()
	tests := []struct {
		name    string
		data    []byte
		opts    Options
		id, ver string
		err     error // the sentinel the error wraps; nil for success
	}{
		{name: "valid, version normalised", data: formattest.Zip(formattest.Text("Contoso.Widgets.nuspec", good), formattest.Text("lib/net8.0/a.dll", "x")),
			id: "Contoso.Widgets", ver: "1.2.0-Beta+sha.1"},
		{name: "byte order mark, older schema", data: formattest.Zip(formattest.Text("x.nuspec", "\ufeff"+strings.Replace(testNuspec("A", "1.0.0", ""), "2013/05", "2010/07", 1))),
			id: "A", ver: "1.0.0"},
		{name: "not a zip", data: []byte("PK? no"), err: formats.ErrInvalid},
		{name: "no nuspec", data: formattest.Zip(formattest.Text("lib/a.dll", "x")), err: formats.ErrInvalid},
		{name: "nuspec only in a folder", data: formattest.Zip(formattest.Text("sub/a.nuspec", good)), err: formats.ErrInvalid},
		{name: "two nuspecs", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("b.NUSPEC", good)), err: formats.ErrInvalid},
		{name: "parent directory", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("../evil.txt", "x")), err: formats.ErrInvalid},
		{name: "parent directory with backslashes", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text(`content\..\..\evil.txt`, "x")), err: formats.ErrInvalid},
		{name: "parent directory, percent-encoded", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("content/%2e%2e/%2E%2E/evil.txt", "x")), err: formats.ErrInvalid},
		{name: "percent-encoded names are fine", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("lib/net8.0/My%20File.dll", "x")),
			id: "Contoso.Widgets", ver: "1.2.0-Beta+sha.1"},
		{name: "absolute path", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("/etc/evil", "x")), err: formats.ErrInvalid},
		{name: "drive letter", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text(`C:\evil`, "x")), err: formats.ErrInvalid},
		{name: "duplicate entries", data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("lib/A.dll", "x"), formattest.Text("lib/a.dll", "y")), err: formats.ErrInvalid},
		{name: "too many entries", opts: small, data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("1", ""), formattest.Text("2", ""), formattest.Text("3", ""), formattest.Text("4", "")), err: formats.ErrInvalid},
		{name: "inflates beyond the bound", opts: small, data: formattest.Zip(formattest.Text("a.nuspec", good), formattest.Text("big", strings.Repeat("0", 2<<20))), err: formats.ErrTooLarge},
		{name: "nuspec bomb", opts: small, data: formattest.Zip(formattest.Text("a.nuspec", strings.Replace(good, "<authors>", strings.Repeat(" ", 100<<10)+"<authors>", 1))), err: formats.ErrTooLarge},
		{name: "nuspec larger than its header says", opts: small, data: lyingZip(t, "a.nuspec", good+strings.Repeat(" ", 200<<10), 100), err: formats.ErrInvalid},
		{name: "bad id", data: formattest.Zip(formattest.Text("a.nuspec", testNuspec("../x", "1.0.0", ""))), err: formats.ErrInvalid},
		{name: "bad version", data: formattest.Zip(formattest.Text("a.nuspec", testNuspec("A", "1.0.0.0.0", ""))), err: formats.ErrInvalid},
		{name: "bad dependency id", data: formattest.Zip(formattest.Text("a.nuspec", testNuspec("A", "1.0.0", `<dependencies><dependency id="a b" version="1.0"/></dependencies>`))), err: formats.ErrInvalid},
		{name: "not XML", data: formattest.Zip(formattest.Text("a.nuspec", "<package><metadata>")), err: formats.ErrInvalid},
		{name: "unsupported encoding", data: formattest.Zip(formattest.Text("a.nuspec", strings.Replace(good, "utf-8", "utf-16", 1))), err: formats.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			if o == (Options{}) {
				o = Options{}.withDefaults()
			}
			n, err := readNupkg(bytes.NewReader(tc.data), int64(len(tc.data)), o)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want one wrapping %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := []string{n.id, n.version.Full()}; !cmp.Equal(got, []string{tc.id, tc.ver}) {
				t.Fatalf("id, version = %v, want %s %s", got, tc.id, tc.ver)
			}
		})
	}
}

func TestPushedEntry(t *testing.T) {
	ns := testNuspec("Contoso.Widgets", "2.0.0", `<title>Widgets</title><tags>a b,c</tags><projectUrl>https://example.test/w</projectUrl>
<license type="expression">MIT</license><repository type="git" url="https://example.test/w.git"/><readme>docs/README.md</readme>
<dependencies><group targetFramework="net8.0"><dependency id="Contoso.Core" version="[1.0.0, )"/></group><dependency id="Flat" version="2.0"/></dependencies>
<packageTypes><packageType name="DotnetTool"/></packageTypes>`)
	data := formattest.Zip(formattest.Text("Contoso.Widgets.nuspec", ns), formattest.Text("docs/README.md", "# Widgets\n"))
	n, err := readNupkg(bytes.NewReader(data), int64(len(data)), Options{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	e := n.entry("aGFzaA==", 42)
	got := map[string]any{}
	for k := range e {
		var v any
		_ = json.Unmarshal(e[k], &v)
		got[k] = v
	}
	want := map[string]any{
		"id": "Contoso.Widgets", "version": "2.0.0", "title": "Widgets", "authors": "A", "description": "D",
		"tags": []any{"a", "b", "c"}, "projectUrl": "https://example.test/w", "licenseExpression": "MIT",
		"requireLicenseAcceptance": false,
		"dependencyGroups": []any{
			map[string]any{"targetFramework": "net8.0", "dependencies": []any{map[string]any{"id": "Contoso.Core", "range": "[1.0.0, )"}}},
			map[string]any{"dependencies": []any{map[string]any{"id": "Flat", "range": "2.0"}}},
		},
		"packageTypes": []any{map[string]any{"name": "DotnetTool"}},
		"packageHash":  "aGFzaA==", "packageHashAlgorithm": "SHA512", "packageSize": float64(42),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("entry (-want +got):\n%s", diff)
	}

	// The control plane's description: from the entry, plus the readme and
	// repository of the nuspec inside the package.
	v := &formats.Version{Version: "2.0.0", Meta: marshalEntry(e), Assets: []formats.AssetRef{{Name: "contoso.widgets.2.0.0.nupkg"}}}
	d, err := New().Describe(t.Context(), v, func(name string) (io.ReadCloser, error) {
		if name != "contoso.widgets.2.0.0.nupkg" {
			t.Fatalf("opened %s", name)
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantD := &formats.Description{
		Summary: "D", HomePage: "https://example.test/w", SourceCodeRepository: "https://example.test/w.git", Readme: "# Widgets\n",
		Licenses:     []formats.License{{Name: "MIT"}},
		Dependencies: []formats.Dependency{{Package: "contoso.core", VersionRequirement: "[1.0.0, )"}, {Package: "flat", VersionRequirement: "2.0"}},
	}
	if diff := cmp.Diff(wantD, d); diff != "" {
		t.Fatalf("description (-want +got):\n%s", diff)
	}
}
