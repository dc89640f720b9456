package pypi

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage/enginetest"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// The fixtures are real distributions built once per test binary with the
// real tools (setuptools and wheel through pip, without network and without
// build isolation). When no such Python is installed, and only outside CI
// (STOCKPILE_E2E=require), equivalent archives are made in Go so that the
// protocol tests still run; the real-client tests skip then.

// spec is a project version to build.
type spec struct {
	Name           string // as written in setup.py: needs normalisation
	Version        string
	RequiresPython string
	Requires       []string
	Wheel, Sdist   bool
	Mark           string // module content, to make bytes differ
	Set            string // which set the files belong to
}

// Fixture sets.
const (
	setUpstream = "upstream" // served by the fake PyPI
	setInternal = "internal" // uploaded with twine
	setAlt      = "alt"      // same file names as internal, other bytes
)

var specs = []spec{
	{Name: "Stock_Pile.Demo", Version: "1.0.0", RequiresPython: ">=3.7", Requires: []string{"dep_b>=1.0"}, Wheel: true, Sdist: true, Set: setUpstream},
	{Name: "Stock_Pile.Demo", Version: "1.1.0", RequiresPython: ">=3.7", Requires: []string{"dep_b>=1.0"}, Wheel: true, Set: setUpstream},
	{Name: "Stock_Pile.Demo", Version: "1.2.0", RequiresPython: ">=3.99", Requires: []string{"dep_b>=1.0"}, Wheel: true, Set: setUpstream},
	{Name: "Stock_Pile.Demo", Version: "2.0.0rc1", RequiresPython: ">=3.7", Requires: []string{"dep_b>=1.0"}, Wheel: true, Set: setUpstream},
	{Name: "dep_b", Version: "1.0.0", Sdist: true, Set: setUpstream},
	{Name: "dep_b", Version: "1.1.0", Wheel: true, Set: setUpstream},
	{Name: "Acme_Secret", Version: "99.0.0", Wheel: true, Mark: "public squatter", Set: setUpstream},
	{Name: "Acme_Secret", Version: "0.1.0", RequiresPython: ">=3.7", Wheel: true, Sdist: true, Mark: "internal", Set: setInternal},
	{Name: "Acme_Secret", Version: "0.1.0", RequiresPython: ">=3.7", Wheel: true, Mark: "internal, rebuilt", Set: setAlt},
}

// dist is one built distribution file.
type dist struct {
	Project  string // normalized
	Version  string // normalized
	Filename string
	Body     []byte
	SHA256   string
	Metadata []byte // wheels: the METADATA file
	Wheel    bool
	Set      string
	Spec     spec
}

type fixtureSet struct {
	// Builder built them (nil when they were made in Go); Installer is the
	// interpreter with the newest pip, for the real-client tests.
	Builder, Installer *python
	Dists              []*dist
	Err                error
}

var (
	fixtureOnce sync.Once
	fixtureData *fixtureSet
	fixtureDir  string
)

// engines are PostgreSQL and SeaweedFS, started for the replicas test.
var engines *enginetest.Engines

func TestMain(m *testing.M) { os.Exit(enginetest.MainRemoving(m, &engines, &fixtureDir)) }

// fixtures returns the built distributions, building them on first use.
func fixtures(t testing.TB) *fixtureSet {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureData = buildFixtures()
	})
	if fixtureData.Err != nil {
		t.Fatalf("building fixtures: %v", fixtureData.Err)
	}
	return fixtureData
}

// get returns the file of project (normalized) version of a kind in a set.
func (fs *fixtureSet) get(t testing.TB, set, project, version string, wheel bool) *dist {
	t.Helper()
	for _, d := range fs.Dists {
		if d.Set == set && d.Project == project && d.Version == version && d.Wheel == wheel {
			return d
		}
	}
	t.Fatalf("no fixture %s %s %s wheel=%v", set, project, version, wheel)
	return nil
}

// python is an interpreter found on this machine.
type python struct {
	Path  string // sys.executable (not a pyenv shim, which needs the real HOME)
	Pip   [2]int // pip's major and minor version, zero without pip
	Build bool   // setuptools and wheel import
}

// probe is run by each candidate: setuptools is imported before pip, whose
// import would otherwise trip setuptools' distutils check on Debian.
const probe = `import sys
try:
    import setuptools, wheel
    b = 1
except Exception:
    b = 0
try:
    import pip
    v = pip.__version__
except Exception:
    v = "0.0"
print(sys.executable, v, b)`

// findPythons returns the interpreters that can build the fixtures and the
// one whose pip is newest (pip 23.2 is the first to read PEP 714's
// core-metadata key in JSON pages).
func findPythons() (builder, installer *python) {
	seen := map[string]bool{}
	cands := []string{"/usr/bin/python3", "python3"}
	// pyenv's interpreters directly, not through its shims, which can fail
	// while another process rehashes them (pip installs do).
	for _, root := range []string{os.Getenv("PYENV_ROOT"), "/root/.pyenv"} {
		if root != "" {
			found, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin", "python3"))
			cands = append(cands, found...)
		}
	}
	for _, cand := range cands {
		path, err := exec.LookPath(cand)
		if err != nil {
			continue
		}
		out, err := exec.Command(path, "-c", probe).Output()
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		f := strings.Fields(lines[len(lines)-1])
		if len(f) != 3 || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		py := &python{Path: f[0], Build: f[2] == "1"}
		fmt.Sscanf(f[1], "%d.%d", &py.Pip[0], &py.Pip[1])
		if py.Build && py.Pip[0] > 0 && builder == nil {
			builder = py
		}
		if py.Pip[0] > 0 && (installer == nil || py.Pip[0] > installer.Pip[0] || py.Pip[0] == installer.Pip[0] && py.Pip[1] > installer.Pip[1]) {
			installer = py
		}
	}
	return builder, installer
}

func buildFixtures() *fixtureSet {
	dir, err := os.MkdirTemp("", "stockpile-pypi-fixtures-*")
	if err != nil {
		return &fixtureSet{Err: err}
	}
	fixtureDir = dir
	builder, installer := findPythons()
	if builder == nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			return &fixtureSet{Err: fmt.Errorf("a python3 with pip, setuptools and wheel is required (STOCKPILE_E2E=require)")}
		}
		return synthesize()
	}
	fs, err := buildReal(builder.Path, dir)
	if err != nil {
		return &fixtureSet{Err: err}
	}
	fs.Builder, fs.Installer = builder, installer
	return fs
}

func moduleName(name string) string { return strings.ReplaceAll(normalizeName(name), "-", "_") }

func setupPy(s spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from setuptools import setup\nsetup(name=%q, version=%q, py_modules=[%q], description=%q", s.Name, s.Version, moduleName(s.Name), "fixture "+s.Mark)
	if s.RequiresPython != "" {
		fmt.Fprintf(&b, ", python_requires=%q", s.RequiresPython)
	}
	if len(s.Requires) > 0 {
		b.WriteString(", install_requires=[")
		for i, r := range s.Requires {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", r)
		}
		b.WriteString("]")
	}
	b.WriteString(")\n")
	return b.String()
}

func moduleSource(s spec) string {
	return fmt.Sprintf("VERSION = %q\nMARK = %q\n", s.Version, s.Mark)
}

// pythonEnv is the environment of the build tools and clients: no user
// configuration, no network, no keyring.
func pythonEnv(home string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"PIP_CONFIG_FILE=/dev/null",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"NO_PROXY=*",
		"LC_ALL=C.UTF-8",
	}
	return env
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func buildReal(py, dir string) (*fixtureSet, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	env := pythonEnv(home)
	fs := &fixtureSet{}
	// setup.py bdist_wheel/sdist (setuptools and wheel, as pip wheel would
	// run them without build isolation) takes a fraction of pip's time; two
	// builds at a time.
	errs := make([]error, len(specs))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			src := filepath.Join(dir, "src", fmt.Sprint(i))
			out := filepath.Join(dir, "out", fmt.Sprint(i))
			if err := os.MkdirAll(src, 0o755); err != nil {
				errs[i] = err
				return
			}
			os.WriteFile(filepath.Join(src, "setup.py"), []byte(setupPy(s)), 0o644)
			os.WriteFile(filepath.Join(src, moduleName(s.Name)+".py"), []byte(moduleSource(s)), 0o644)
			var cmds []string
			if s.Wheel {
				cmds = append(cmds, "bdist_wheel")
			}
			if s.Sdist {
				cmds = append(cmds, "sdist")
			}
			for _, c := range cmds {
				if err := run(src, env, py, "setup.py", "-q", c, "-d", out); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range specs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if err := fs.collect(filepath.Join(dir, "out", fmt.Sprint(i)), specs[i]); err != nil {
			return nil, err
		}
	}
	return fs, nil
}

// collect reads the distributions of a build directory.
func (fs *fixtureSet) collect(dir string, s spec) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		df, err := parseFilename(e.Name(), "")
		if err != nil {
			return fmt.Errorf("built file %s: %v", e.Name(), err)
		}
		d := &dist{Project: normalizeName(df.Name), Version: normalizeVersion(df.Version), Filename: e.Name(), Body: body,
			Wheel: df.Kind == kindWheel, Set: s.Set, Spec: s}
		sum := sha256.Sum256(body)
		d.SHA256 = hex.EncodeToString(sum[:])
		if d.Wheel {
			if d.Metadata, err = zipMetadata(body); err != nil {
				return fmt.Errorf("%s: %v", e.Name(), err)
			}
		}
		fs.Dists = append(fs.Dists, d)
	}
	return nil
}

// zipMetadata reads the METADATA of a wheel, independently of the code
// under test.
func zipMetadata(body []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".dist-info/METADATA") && strings.Count(f.Name, "/") == 1 {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	return nil, fmt.Errorf("no METADATA")
}

var wheelEscape = regexp.MustCompile(`[^\w\d.]+`)

// synthesize makes archives shaped like what setuptools 66 and wheel 0.38
// build, for machines without them.
func synthesize() *fixtureSet {
	fs := &fixtureSet{}
	for _, s := range specs {
		var md strings.Builder
		fmt.Fprintf(&md, "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: fixture %s\n", s.Name, s.Version, s.Mark)
		if s.RequiresPython != "" {
			fmt.Fprintf(&md, "Requires-Python: %s\n", s.RequiresPython)
		}
		for _, r := range s.Requires {
			fmt.Fprintf(&md, "Requires-Dist: %s\n", r)
		}
		stem := wheelEscape.ReplaceAllString(s.Name, "_") + "-" + s.Version
		add := func(name string, body []byte, wheel bool, meta []byte) {
			sum := sha256.Sum256(body)
			fs.Dists = append(fs.Dists, &dist{Project: normalizeName(s.Name), Version: normalizeVersion(s.Version), Filename: name,
				Body: body, SHA256: hex.EncodeToString(sum[:]), Metadata: meta, Wheel: wheel, Set: s.Set, Spec: s})
		}
		if s.Wheel {
			add(stem+"-py3-none-any.whl", formattest.Wheel(stem+".dist-info",
				formattest.Text(moduleName(s.Name)+".py", moduleSource(s)),
				formattest.Text(stem+".dist-info/METADATA", md.String()),
				formattest.Text(stem+".dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
			), true, []byte(md.String()))
		}
		if s.Sdist {
			dir := s.Name + "-" + s.Version + "/"
			add(s.Name+"-"+s.Version+".tar.gz", formattest.TarGz(
				formattest.Text(dir+"PKG-INFO", md.String()),
				formattest.Text(dir+"setup.py", setupPy(s)),
				formattest.Text(dir+moduleName(s.Name)+".py", moduleSource(s)),
			), false, nil)
		}
	}
	return fs
}
