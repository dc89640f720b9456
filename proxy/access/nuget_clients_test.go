package access_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// nupkg writes a minimal package for id version (the parts nuget pack
// writes: the OPC relationships and content types, the nuspec, content).
func nupkg(t *testing.T, id, version string) string {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, e := range [][2]string{
		{"_rels/.rels", `<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`},
		{id + ".nuspec", `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>` + id + `</id><version>` + version + `</version><authors>Stockpile</authors><description>matrix fixture</description></metadata>
</package>`},
		{"content/readme.txt", "matrix fixture\n"},
		{"[Content_Types].xml", `<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
	} {
		w, _ := z.Create(e[0])
		w.Write([]byte(e[1]))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), strings.ToLower(id)+"."+version+".nupkg")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMatrixNuGetExe(t *testing.T) {
	mono := proxytest.RequireTool(t, "mono")
	exe := os.Getenv("STOCKPILE_NUGET_EXE")
	if _, err := os.Stat(exe); exe == "" || err != nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatal("nuget.exe is required (STOCKPILE_E2E=require): set STOCKPILE_NUGET_EXE")
		}
		t.Skip("STOCKPILE_NUGET_EXE is not set")
	}
	in := matrixServer(t, nuget.New())
	// nugetAs runs NuGet.exe with a NuGet.Config whose sources app and
	// internal carry key's token as the clear-text password.
	nugetAs := func(key string) func(ok bool, args ...string) string {
		home := t.TempDir()
		tok := in.TokenFor("acme", key)
		var srcs, creds strings.Builder
		for _, r := range []string{"app", "internal"} {
			fmt.Fprintf(&srcs, "    <add key=%q value=%q protocolVersion=\"3\" />\n", r, in.URL+"/acme/nuget/"+r+"/v3/index.json")
			fmt.Fprintf(&creds, "    <%s>\n      <add key=\"Username\" value=\"aws\" />\n      <add key=\"ClearTextPassword\" value=%q />\n    </%s>\n", r, tok, r)
		}
		config := filepath.Join(home, "NuGet.Config")
		os.WriteFile(config, []byte("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n"+srcs.String()+
			"  </packageSources>\n  <packageSourceCredentials>\n"+creds.String()+"  </packageSourceCredentials>\n</configuration>\n"), 0o600)
		os.MkdirAll(filepath.Join(home, "tmp"), 0o755)
		return func(ok bool, args ...string) string {
			t.Helper()
			args = append(append([]string{exe}, args...), "-ConfigFile", config, "-NonInteractive")
			if args[1] == "push" {
				args = append(args, "-ApiKey", tok)
			}
			cmd := exec.Command(mono, args...)
			cmd.Dir = home
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
				"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"), "NUGET_PACKAGES=" + filepath.Join(home, "packages"),
				"NUGET_HTTP_CACHE_PATH=" + filepath.Join(home, "http-cache"), "NUGET_PLUGINS_CACHE_PATH=" + filepath.Join(home, "plugins-cache"),
				"MONO_REGISTRY_PATH=" + filepath.Join(home, ".mono-registry"), "TMPDIR=" + filepath.Join(home, "tmp")}
			out, err := cmd.CombinedOutput()
			if (err == nil) != ok {
				t.Fatalf("nuget %s: err=%v, want success=%v\n%s", strings.Join(args[1:], " "), err, ok, out)
			}
			return string(out)
		}
	}
	admin, reader, publisher := nugetAs("AKIAADMIN"), nugetAs("AKIAREADER"), nugetAs("AKIAPUB")
	admin(true, "push", nupkg(t, "Mx.Lib", "1.0.0"), "-Source", "app")

	t.Run("reader installs through app", func(t *testing.T) {
		out := t.TempDir()
		reader(true, "install", "Mx.Lib", "-Version", "1.0.0", "-Source", "app", "-OutputDirectory", out)
		if _, err := os.Stat(filepath.Join(out, "Mx.Lib.1.0.0", "content", "readme.txt")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reader push is refused with a 403", func(t *testing.T) {
		if out := reader(false, "push", nupkg(t, "Mx.Reader", "1.0.0"), "-Source", "app"); !strings.Contains(out, "403") {
			t.Fatalf("nuget does not show the 403:\n%s", out)
		}
	})
	t.Run("publisher pushes to internal", func(t *testing.T) {
		publisher(true, "push", nupkg(t, "Mx.Pub", "1.0.0"), "-Source", "internal")
	})
	t.Run("publisher is refused on app", func(t *testing.T) {
		if out := publisher(false, "push", nupkg(t, "Mx.Pub", "1.0.1"), "-Source", "app"); !strings.Contains(out, "403") {
			t.Fatalf("nuget does not show the 403:\n%s", out)
		}
	})
	t.Run("explicit deny on a package beats the identity allow", func(t *testing.T) {
		if out := publisher(false, "push", nupkg(t, "MxFrozen", "1.0.0"), "-Source", "internal"); !strings.Contains(out, "403") {
			t.Fatalf("nuget does not show the 403:\n%s", out)
		}
	})
}
