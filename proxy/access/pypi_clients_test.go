package access_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// wheel writes a minimal pure-Python wheel (PEP 427) for name==version into
// dir and returns its path.
func wheel(t *testing.T, dir, name, version string) string {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	info := name + "-" + version + ".dist-info/"
	files := [][2]string{
		{name + "/__init__.py", "VALUE = 42\n"},
		{info + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: matrix fixture\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		w, _ := z.Create(f[0])
		w.Write([]byte(f[1]))
		sum := sha256.Sum256([]byte(f[1]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f[0], base64.RawURLEncoding.EncodeToString(sum[:]), len(f[1]))
	}
	record.WriteString(info + "RECORD,,\n")
	w, _ := z.Create(info + "RECORD")
	w.Write([]byte(record.String()))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+"-"+version+"-py3-none-any.whl")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMatrixPipTwine(t *testing.T) {
	twine, python := proxytest.RequireTool(t, "twine"), proxytest.RequireTool(t, "python3")
	in := matrixServer(t, pypi.New())
	run := func(key string, ok bool, bin string, args ...string) string {
		t.Helper()
		home := t.TempDir()
		cmd := exec.Command(bin, args...)
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "PIP_CONFIG_FILE=/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK=1",
			"PIP_NO_INPUT=1", "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring", "TWINE_NON_INTERACTIVE=1", "NO_PROXY=*", "LC_ALL=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		if (err == nil) != ok {
			t.Fatalf("%s %s: err=%v, want success=%v\n%s", filepath.Base(bin), strings.Join(args, " "), err, ok, out)
		}
		return string(out)
	}
	upload := func(key string, ok bool, repo, file string) string {
		t.Helper()
		return run(key, ok, twine, "upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", in.URL+"/acme/pypi/"+repo+"/", "-u", "aws", "-p", in.TokenFor("acme", key), file)
	}
	dir := t.TempDir()
	upload("AKIAADMIN", true, "app", wheel(t, dir, "mxpy", "1.0.0"))

	t.Run("reader installs through app", func(t *testing.T) {
		u, _ := url.Parse(in.URL + "/acme/pypi/app/simple/")
		u.User = url.UserPassword("aws", in.TokenFor("acme", "AKIAREADER"))
		target := t.TempDir()
		run("AKIAREADER", true, python, "-m", "pip", "install", "--index-url", u.String(), "--target", target, "--cache-dir", t.TempDir(), "mxpy==1.0.0")
		if _, err := os.Stat(filepath.Join(target, "mxpy", "__init__.py")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reader upload is refused with a 403", func(t *testing.T) {
		out := upload("AKIAREADER", false, "app", wheel(t, t.TempDir(), "mxreader", "1.0.0"))
		if !strings.Contains(out, "403") {
			t.Fatalf("twine does not show the 403:\n%s", out)
		}
	})
	t.Run("publisher uploads to internal", func(t *testing.T) {
		upload("AKIAPUB", true, "internal", wheel(t, t.TempDir(), "mxpub", "1.0.0"))
	})
	t.Run("publisher is refused on app", func(t *testing.T) {
		out := upload("AKIAPUB", false, "app", wheel(t, t.TempDir(), "mxpub", "1.0.1"))
		if !strings.Contains(out, "403") {
			t.Fatalf("twine does not show the 403:\n%s", out)
		}
	})
	t.Run("explicit deny on a package beats the identity allow", func(t *testing.T) {
		out := upload("AKIAPUB", false, "internal", wheel(t, t.TempDir(), "mxfrozen", "1.0.0"))
		if !strings.Contains(out, "403") {
			t.Fatalf("twine does not show the 403:\n%s", out)
		}
	})
}
