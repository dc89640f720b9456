package formattest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

// unzip returns a zip's members and their methods.
func unzip(t *testing.T, b []byte) (map[string]string, map[string]uint16) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	bodies, methods := map[string]string{}, map[string]uint16{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		bodies[f.Name], methods[f.Name] = string(body), f.Method
	}
	return bodies, methods
}

// untar returns a tar's members in order, gunzipping it first when gz.
func untar(t *testing.T, b []byte, gz bool) ([]string, map[string][]byte) {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	var names []string
	bodies := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(ModTime) || h.Typeflag != tar.TypeReg {
			t.Errorf("%s: mtime %s, type %c", h.Name, h.ModTime, h.Typeflag)
		}
		names = append(names, h.Name)
		bodies[h.Name] = body
	}
}

func TestArchives(t *testing.T) {
	z := Zip(Text("a.txt", "hello"), File{"lib/x.dll", []byte{1, 2, 3}})
	bodies, methods := unzip(t, z)
	if bodies["a.txt"] != "hello" || methods["a.txt"] != zip.Deflate || methods["lib/x.dll"] != zip.Store {
		t.Errorf("zip members %q, methods %v", bodies, methods)
	}
	if !bytes.Equal(z, Zip(Text("a.txt", "hello"), File{"lib/x.dll", []byte{1, 2, 3}})) {
		t.Error("the same members made other bytes")
	}
	names, tb := untar(t, TarGz(Text("p/b", "2"), Text("p/a", "1")), true)
	if strings.Join(names, ",") != "p/b,p/a" || string(tb["p/a"]) != "1" {
		t.Errorf("tar.gz members %v", names)
	}
	if names, _ := untar(t, Tar(Text("x", "y")), false); len(names) != 1 {
		t.Errorf("tar members %v", names)
	}
	zr, err := gzip.NewReader(bytes.NewReader(Gzip([]byte("abc"))))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != "abc" {
		t.Errorf("gunzipped %q", b)
	}
	if r1, r2 := Random(RNG("x"), 33), Random(RNG("x"), 33); !bytes.Equal(r1, r2) || bytes.Equal(r1, Random(RNG("y"), 33)) {
		t.Error("RNG is not a function of its name")
	}
}

func TestArtifacts(t *testing.T) {
	t.Run("wheel", func(t *testing.T) {
		bodies, _ := unzip(t, Wheel("demo-1.0.dist-info", Text("demo.py", "x = 1\n"), Text("demo-1.0.dist-info/METADATA", "Name: demo\n")))
		want := "demo.py,sha256=" + "nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q" + ",6\n"
		if rec := bodies["demo-1.0.dist-info/RECORD"]; !strings.HasPrefix(rec, want) || !strings.HasSuffix(rec, "demo-1.0.dist-info/RECORD,,\n") {
			t.Errorf("RECORD %q, want it to start with %q", rec, want)
		}
	})
	t.Run("nupkg", func(t *testing.T) {
		bodies, _ := unzip(t, Nupkg("Demo.Pkg", []byte("<package/>"), Text("content/readme.txt", "hi")))
		if bodies["Demo.Pkg.nuspec"] != "<package/>" || !strings.Contains(bodies["_rels/.rels"], `Target="/Demo.Pkg.nuspec"`) ||
			!strings.Contains(bodies["[Content_Types].xml"], `Extension="txt"`) || bodies["content/readme.txt"] != "hi" {
			t.Errorf("members %q", bodies)
		}
	})
	t.Run("gem", func(t *testing.T) {
		names, m := untar(t, Gem("--- spec\n", Text("lib/g.rb", "module G; end\n")), false)
		if strings.Join(names, ",") != "metadata.gz,data.tar.gz,checksums.yaml.gz" {
			t.Fatalf("members %v", names)
		}
		zr, err := gzip.NewReader(bytes.NewReader(m["checksums.yaml.gz"]))
		if err != nil {
			t.Fatal(err)
		}
		sums, _ := io.ReadAll(zr)
		if !strings.Contains(string(sums), "data.tar.gz: "+SHA256(m["data.tar.gz"])) {
			t.Errorf("checksums %s", sums)
		}
	})
	t.Run("crate", func(t *testing.T) {
		names, _ := untar(t, Crate("demo", "0.1.0", Text("Cargo.toml", "[package]\n")), true)
		if len(names) != 1 || names[0] != "demo-0.1.0/Cargo.toml" {
			t.Errorf("members %v", names)
		}
	})
}

func TestRegistryLayouts(t *testing.T) {
	md := string(MavenMetadata("org.acme", "lib", "20240302101112", "1.0", "2.0"))
	for _, want := range []string{"<groupId>org.acme</groupId>", "<latest>2.0</latest>", "<release>2.0</release>", "<version>1.0</version>", "<lastUpdated>20240302101112</lastUpdated>"} {
		if !strings.Contains(md, want) {
			t.Errorf("maven-metadata.xml lacks %s:\n%s", want, md)
		}
	}
	if strings.Contains(string(MavenMetadata("g", "a", "1")), "<latest>") {
		t.Error("no versions, yet a latest")
	}
	for name, want := range map[string]string{"a": "1", "bb": "2", "c_d": "3/c", "serde": "se/rd"} {
		if got := CargoIndexDir(name); got != want {
			t.Errorf("CargoIndexDir(%q) = %q, want %q", name, got, want)
		}
	}
	sum := strings.Repeat("ab", 32)
	if got := PyPIFilePath(sum, "x.whl"); got != "/packages/ab/ab/"+sum[4:]+"/x.whl" {
		t.Errorf("PyPIFilePath = %s", got)
	}
}
