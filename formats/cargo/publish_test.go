package cargo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// entry is one member of a test tarball.
type entry struct {
	name, body string
	typ        byte
}

func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if typ == tar.TypeSymlink {
			hdr.Linkname = "/etc/passwd"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

const manifest = "# generated\n[package]\nedition = \"2021\"\nname = \"demo-crate\"\nversion = \"0.1.0\"\n\n[dependencies.a]\nversion = \"0.1\"\n"

func TestCheckCrate(t *testing.T) {
	const prefix = "demo-crate-0.1.0/"
	good := []entry{{name: prefix + "Cargo.toml", body: manifest}, {name: prefix + "src/lib.rs", body: "pub fn f() {}\n"}}
	for _, tc := range []struct {
		name     string
		crate    []byte
		wantErr  string // empty: valid
		sentinel error
	}{
		{"valid", tarball(t, good...), "", nil},
		{"with directories", tarball(t, entry{name: "demo-crate-0.1.0", typ: tar.TypeDir}, entry{name: prefix + "src/", typ: tar.TypeDir}, good[0], good[1]), "", nil},
		{"not gzip", []byte("FIXTURE crate demo-crate 0.1.0\n"), "not gzip-compressed", formats.ErrInvalid},
		{"gzip but not tar", formattest.Gzip(bytes.Repeat([]byte("x"), 1000)), "not a valid tar archive", formats.ErrInvalid},
		{"truncated gzip", tarball(t, good...)[:60], "", formats.ErrInvalid},
		{"entry outside the crate directory", tarball(t, good[0], entry{name: "other-0.1.0/src/lib.rs", body: "x"}), "is not under demo-crate-0.1.0/", formats.ErrInvalid},
		{"other version's directory", tarball(t, entry{name: "demo-crate-0.2.0/Cargo.toml", body: manifest}), "is not under", formats.ErrInvalid},
		{"traversal", tarball(t, good[0], entry{name: prefix + "../../etc/cron.d/x", body: "x"}), "leaves its directory", formats.ErrInvalid},
		{"dot dot at the end", tarball(t, good[0], entry{name: prefix + "src/..", typ: tar.TypeDir}), "leaves its directory", formats.ErrInvalid},
		{"absolute inside", tarball(t, good[0], entry{name: prefix + "/etc/passwd", body: "x"}), "leaves its directory", formats.ErrInvalid},
		{"symlink", tarball(t, good[0], entry{name: prefix + "link", typ: tar.TypeSymlink}), "not a regular file or directory", formats.ErrInvalid},
		{"hard link", tarball(t, good[0], entry{name: prefix + "link", typ: tar.TypeLink}), "not a regular file or directory", formats.ErrInvalid},
		{"duplicate entry", tarball(t, good[0], good[1], entry{name: prefix + "Cargo.toml", body: strings.Replace(manifest, "0.1.0", "9.9.9", 1)}), "appears twice", formats.ErrInvalid},
		{"no Cargo.toml", tarball(t, good[1]), "has no demo-crate-0.1.0/Cargo.toml", formats.ErrInvalid},
		{"manifest of another version", tarball(t, entry{name: prefix + "Cargo.toml", body: strings.Replace(manifest, `version = "0.1.0"`, `version = "0.2.0"`, 1)}), "declares demo-crate 0.2.0", formats.ErrInvalid},
		{"manifest of another crate", tarball(t, entry{name: prefix + "Cargo.toml", body: strings.Replace(manifest, `name = "demo-crate"`, `name = "evil"`, 1)}), "declares evil 0.1.0", formats.ErrInvalid},
		{"too large unpacked", tarball(t, good[0], entry{name: prefix + "big", body: strings.Repeat("x", 2000)}), "unpacks to more than", formats.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkCrate(bytes.NewReader(tc.crate), "demo-crate", "0.1.0", 1500)
			if tc.sentinel == nil {
				if err != nil {
					t.Fatalf("checkCrate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("checkCrate = %v, want %v containing %q", err, tc.sentinel, tc.wantErr)
			}
		})
	}
}

func TestManifestPackage(t *testing.T) {
	for _, tc := range []struct{ name, toml, wantName, wantVers string }{
		{"cargo's normalized form", manifest, "demo-crate", "0.1.0"},
		{"literal strings and comments", "[package] # x\nname = 'demo' # c\nversion='1.0.0'\n", "demo", "1.0.0"},
		{"legacy [project]", "[project]\nname = \"old\"\nversion = \"0.1.0\"\n", "old", "0.1.0"},
		{"keys of other tables ignored", "[dependencies.x]\nversion = \"9\"\nname = \"x\"\n[package]\nname = \"p\"\nversion = \"1.0.0\"\n", "p", "1.0.0"},
		{"escaped basic string", "[package]\nname = \"a\\u0062\"\nversion = \"1.0.0\"\n", "ab", "1.0.0"},
		{"no package table", "[lib]\nname = \"x\"\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, v := manifestPackage([]byte(tc.toml))
			if n != tc.wantName || v != tc.wantVers {
				t.Fatalf("manifestPackage = %q %q, want %q %q", n, v, tc.wantName, tc.wantVers)
			}
		})
	}
}

func frame(meta string, crate []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(meta)))
	b = append(b, meta...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(crate)))
	return append(b, crate...)
}

func TestReadFrame(t *testing.T) {
	good := frame(`{"name":"x"}`, []byte("crate"))
	for _, tc := range []struct {
		name     string
		body     []byte
		ok       bool
		sentinel error
	}{
		{"valid", good, true, nil},
		{"empty", nil, false, formats.ErrInvalid},
		{"three bytes", []byte{1, 0, 0}, false, formats.ErrInvalid},
		{"metadata longer than the body", binary.LittleEndian.AppendUint32(nil, 1000), false, formats.ErrInvalid},
		{"huge metadata length", append(binary.LittleEndian.AppendUint32(nil, 0xffffffff), "{}"...), false, formats.ErrTooLarge},
		{"metadata over max_metadata_size", frame(strings.Repeat(" ", 1025), []byte("crate")), false, formats.ErrTooLarge},
		{"crate over max_publish_size", binary.LittleEndian.AppendUint32(frame(`{}`, nil)[:6], 1<<20+1), false, formats.ErrTooLarge},
		{"no crate length", good[:4+12+2], false, formats.ErrInvalid},
		{"crate shorter than declared", good[:len(good)-1], false, formats.ErrInvalid},
		{"trailing bytes", append(append([]byte(nil), good...), 0), false, formats.ErrInvalid},
		{"empty crate", frame(`{}`, nil), false, formats.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := formats.Intake{MaxPublishSize: 1 << 20, MaxMetadataSize: 1 << 10, SpoolDir: t.TempDir()}
			meta, crate, err := readFrame(bytes.NewReader(tc.body), in)
			if tc.ok {
				if err != nil {
					t.Fatalf("readFrame: %v", err)
				}
				defer crate.spool.Close()
				got, _ := io.ReadAll(crate.spool.Reader())
				if string(meta) != `{"name":"x"}` || string(got) != "crate" {
					t.Fatalf("readFrame = %q %q", meta, got)
				}
				return
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("readFrame = %v, want %v", err, tc.sentinel)
			}
			if left, _ := os.ReadDir(in.SpoolDir); len(left) != 0 {
				t.Errorf("a refused body left %d spool files", len(left))
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestPublishMetaValidate(t *testing.T) {
	valid := func() publishMeta {
		return publishMeta{Name: "demo-crate", Vers: "0.1.0", Deps: []publishDep{{Name: "a", VersionReq: "^0.1", Kind: "normal"}}, Features: map[string][]string{"default": {"std"}, "std": {}}}
	}
	for _, tc := range []struct {
		name string
		edit func(*publishMeta)
		want string // empty: valid
	}{
		{"valid", func(*publishMeta) {}, ""},
		{"empty kind means normal", func(m *publishMeta) { m.Deps[0].Kind = "" }, ""},
		{"rust-version", func(m *publishMeta) { m.RustVersion = ptr("1.70") }, ""},
		{"bad name", func(m *publishMeta) { m.Name = "demo crate" }, "may only contain"},
		{"name starting with a digit", func(m *publishMeta) { m.Name = "1demo" }, "must start with an ASCII letter"},
		{"bad version", func(m *publishMeta) { m.Vers = "1.0" }, "not a SemVer 2.0 version"},
		{"bad dependency name", func(m *publishMeta) { m.Deps[0].Name = "a/b" }, "is not a crate name"},
		{"bad rename", func(m *publishMeta) { m.Deps[0].ExplicitNameInToml = ptr("x y") }, "renamed to"},
		{"empty requirement", func(m *publishMeta) { m.Deps[0].VersionReq = "" }, "version requirement"},
		{"control character in requirement", func(m *publishMeta) { m.Deps[0].VersionReq = "^1\n" }, "version requirement"},
		{"bad kind", func(m *publishMeta) { m.Deps[0].Kind = "runtime" }, "is not normal, dev or build"},
		{"bad feature name", func(m *publishMeta) { m.Features["-x"] = nil }, "feature name"},
		{"empty feature value", func(m *publishMeta) { m.Features["std"] = []string{""} }, "enables"},
		{"bad rust-version", func(m *publishMeta) { m.RustVersion = ptr("latest") }, "rust-version"},
		{"empty links", func(m *publishMeta) { m.Links = ptr("") }, "links"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := valid()
			tc.edit(&m)
			err := m.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if !errors.Is(err, formats.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestIndexLineFromPublishMetadata(t *testing.T) {
	m := publishMeta{
		Name: "acme-internal", Vers: "0.1.0",
		Deps: []publishDep{
			{Name: "zed", VersionReq: ">=0.1, <0.3", Features: nil, DefaultFeatures: false, Target: ptr("cfg(unix)"), Kind: "dev", ExplicitNameInToml: ptr("zeta")},
			{Name: "serde", VersionReq: "^1.0", Features: []string{"derive"}, Optional: true, DefaultFeatures: true, Kind: "normal", Registry: ptr("https://github.com/rust-lang/crates.io-index")},
			{Name: "a", VersionReq: "^0.1", DefaultFeatures: true, Kind: "build"},
			{Name: "a", VersionReq: "^0.1", DefaultFeatures: true, Kind: "normal", ExplicitNameInToml: ptr("a")},
		},
		Features:    map[string][]string{"default": {"std"}, "std": {}, "json": {"dep:serde"}, "full": {"json"}, "weak": {"serde?/std"}},
		Links:       ptr("acme"),
		RustVersion: ptr("1.70"),
	}
	got, err := m.indexLine("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"acme-internal","vers":"0.1.0","deps":[` +
		`{"name":"a","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"},` +
		`{"name":"a","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"build"},` +
		`{"name":"serde","req":"^1.0","features":["derive"],"optional":true,"default_features":true,"target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index"},` +
		`{"name":"zeta","req":">=0.1, <0.3","features":[],"optional":false,"default_features":false,"target":"cfg(unix)","kind":"dev","package":"zed"}],` +
		`"cksum":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",` +
		`"features":{"default":["std"],"std":[]},"features2":{"full":["json"],"json":["dep:serde"],"weak":["serde?/std"]},` +
		`"yanked":false,"links":"acme","rust_version":"1.70","pubtime":"2026-01-02T03:04:05Z","v":2}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Fatalf("index line (-want +got):\n%s", diff)
	}

	plain := publishMeta{Name: "b", Vers: "1.0.0"}
	got, _ = plain.indexLine("00", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if want := `{"name":"b","vers":"1.0.0","deps":[],"cksum":"00","features":{},"yanked":false,"pubtime":"2026-01-02T03:04:05Z"}`; string(got) != want {
		t.Fatalf("minimal index line:\n got %s\nwant %s", got, want)
	}
}

func TestSplitFeatures(t *testing.T) {
	f, f2 := splitFeatures(map[string][]string{
		"a": {"b"}, "b": {"c"}, "c": {"dep:x"}, // chain moved to features2
		"plain": {"x/std"}, "none": nil,
	})
	if diff := cmp.Diff(map[string][]string{"plain": {"x/std"}, "none": {}}, f); diff != "" {
		t.Errorf("features (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"dep:x"}}, f2); diff != "" {
		t.Errorf("features2 (-want +got):\n%s", diff)
	}
}
