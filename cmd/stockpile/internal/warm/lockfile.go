// Package warm reads lockfiles and fetches every artifact they name
// through a Stockpile repository, over HTTP like any client, so that the
// cache holds what a build needs.
package warm

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Artifact is one file a lockfile names.
type Artifact struct {
	// Format is the repository format: npm, pypi, cargo, ruby.
	Format  string
	Name    string
	Version string
	// Platform is a gem's platform ("" for ruby).
	Platform string
	// Digests the lockfile gives: any one of them matching verifies the
	// file (requirements.txt may list one per file of a version).
	Digests []Digest
	// From is the lockfile.
	From string
}

func (a Artifact) String() string {
	s := a.Format + " " + a.Name + "@" + a.Version
	if a.Platform != "" {
		s += "-" + a.Platform
	}
	return s
}

// Digest is an expected hash: algorithm (sha1, sha256, sha512) and sum.
type Digest struct {
	Algo string
	Sum  []byte
}

// Lockfiles names the lockfiles Parse reads.
const Lockfiles = "package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, requirements*.txt, Pipfile.lock, poetry.lock, uv.lock, Cargo.lock, Gemfile.lock, packages.lock.json, the output of mvn dependency:list"

// Parse reads a lockfile, recognised by its name.
func Parse(path string, b []byte) ([]Artifact, error) {
	base := filepath.Base(path)
	var arts []Artifact
	var err error
	switch {
	case base == "package-lock.json" || base == "npm-shrinkwrap.json":
		arts, err = parseNPMLock(b)
	case base == "Cargo.lock":
		arts, err = parseCargoLock(b)
	case base == "Gemfile.lock" || strings.HasSuffix(base, ".gemfile.lock"):
		arts, err = parseGemfileLock(b)
	case strings.HasSuffix(base, ".txt") && strings.Contains(base, "requirements"):
		arts, err = parseRequirements(b)
	case base == "yarn.lock":
		arts, err = parseYarnLock(b)
	case base == "pnpm-lock.yaml":
		arts, err = parsePnpmLock(b)
	case base == "Pipfile.lock":
		arts, err = parsePipfileLock(b)
	case base == "poetry.lock":
		arts, err = parsePoetryLock(b)
	case base == "uv.lock":
		arts, err = parseUVLock(b)
	case base == "packages.lock.json":
		arts, err = parseNuGetLock(b)
	case bytes.Contains(b, []byte(mavenListHeader)):
		arts, err = parseMavenList(b)
	default:
		return nil, fmt.Errorf("%s: not a lockfile warm reads (%s)", path, Lockfiles)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i := range arts {
		arts[i].From = path
	}
	return arts, nil
}

// parseNPMLock reads package-lock.json and npm-shrinkwrap.json, versions
// 1 to 3 (https://docs.npmjs.com/cli/configuring-npm/package-lock-json):
// v2 and v3 list "packages" by their node_modules path, v1 nests
// "dependencies". Linked, bundled and non-registry entries are skipped.
func parseNPMLock(b []byte) ([]Artifact, error) {
	var doc struct {
		LockfileVersion int                       `json:"lockfileVersion"`
		Packages        map[string]npmLockEntry   `json:"packages"`
		Dependencies    map[string]npmLockEntryV1 `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a package lock: %w", err)
	}
	seen := map[string]bool{}
	var out []Artifact
	add := func(name string, e npmLockEntry) {
		if e.Link || e.InBundle || e.Version == "" || !strings.Contains(e.Resolved, "/-/") {
			return // the project itself, links, bundled and git or file dependencies
		}
		if e.Name != "" {
			name = e.Name // an alias: "npm:real@1.0.0"
		}
		if k := name + "@" + e.Version; !seen[k] {
			seen[k] = true
			out = append(out, Artifact{Format: "npm", Name: name, Version: e.Version, Digests: sri(e.Integrity)})
		}
	}
	if len(doc.Packages) > 0 {
		for path, e := range doc.Packages {
			i := strings.LastIndex(path, "node_modules/")
			if i < 0 {
				continue
			}
			add(path[i+len("node_modules/"):], e)
		}
	} else {
		var walk func(map[string]npmLockEntryV1)
		walk = func(deps map[string]npmLockEntryV1) {
			for name, e := range deps {
				add(name, npmLockEntry{Version: e.Version, Resolved: e.Resolved, Integrity: e.Integrity, InBundle: e.Bundled})
				walk(e.Dependencies)
			}
		}
		walk(doc.Dependencies)
	}
	sortArtifacts(out)
	return out, nil
}

type npmLockEntry struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Resolved  string `json:"resolved"`
	Integrity string `json:"integrity"`
	Link      bool   `json:"link"`
	InBundle  bool   `json:"inBundle"`
}

type npmLockEntryV1 struct {
	Version      string                    `json:"version"`
	Resolved     string                    `json:"resolved"`
	Integrity    string                    `json:"integrity"`
	Bundled      bool                      `json:"bundled"`
	Dependencies map[string]npmLockEntryV1 `json:"dependencies"`
}

// sri reads Subresource Integrity strings ("sha512-BASE64 sha1-BASE64").
func sri(s string) []Digest {
	var out []Digest
	for _, f := range strings.Fields(s) {
		algo, b64, ok := strings.Cut(f, "-")
		if !ok {
			continue
		}
		if sum, err := base64.StdEncoding.DecodeString(b64); err == nil {
			out = append(out, Digest{Algo: algo, Sum: sum})
		}
	}
	return out
}

// parseCargoLock reads Cargo.lock: every [[package]] from a registry
// source (https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html),
// its checksum being the .crate's SHA-256.
func parseCargoLock(b []byte) ([]Artifact, error) {
	var doc struct {
		Package []struct {
			Name     string `toml:"name"`
			Version  string `toml:"version"`
			Source   string `toml:"source"`
			Checksum string `toml:"checksum"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return nil, fmt.Errorf("not a Cargo.lock: %w", err)
	}
	var out []Artifact
	for _, p := range doc.Package {
		if !strings.HasPrefix(p.Source, "registry+") && !strings.HasPrefix(p.Source, "sparse+") {
			continue // the workspace's own crates, git and path dependencies
		}
		a := Artifact{Format: "cargo", Name: p.Name, Version: p.Version}
		if sum, err := hex.DecodeString(p.Checksum); err == nil && len(sum) == 32 {
			a.Digests = []Digest{{Algo: "sha256", Sum: sum}}
		}
		out = append(out, a)
	}
	sortArtifacts(out)
	return out, nil
}

// gemSpecLine is a locked gem in a GEM section: four spaces, the name and
// the version with its platform, as Bundler writes them.
var gemSpecLine = regexp.MustCompile(`^    ([A-Za-z0-9._-]+) \(([^)\s]+)\)$`)

// parseGemfileLock reads the GEM sections of a Gemfile.lock (their specs;
// GIT and PATH sources are skipped) and its CHECKSUMS section when there is
// one (Bundler 2.5+).
func parseGemfileLock(b []byte) ([]Artifact, error) {
	var out []Artifact
	sums := map[string][]byte{}
	section, inSpecs := "", false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line != "" && line[0] != ' ':
			section, inSpecs = strings.TrimSpace(line), false
		case section == "GEM" && line == "  specs:":
			inSpecs = true
		case section == "GEM" && inSpecs:
			if m := gemSpecLine.FindStringSubmatch(line); m != nil {
				a := Artifact{Format: "ruby", Name: m[1], Version: m[2]}
				if v, plat, ok := splitGemPlatform(m[2]); ok {
					a.Version, a.Platform = v, plat
				}
				out = append(out, a)
			}
		case section == "CHECKSUMS":
			// "  name (version) sha256=HEX"
			f := strings.Fields(line)
			if len(f) == 3 && strings.HasPrefix(f[2], "sha256=") {
				if sum, err := hex.DecodeString(strings.TrimPrefix(f[2], "sha256=")); err == nil {
					sums[f[0]+" "+f[1]] = sum
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 && !bytes.Contains(b, []byte("\nGEM\n")) && !bytes.HasPrefix(b, []byte("GEM\n")) {
		return nil, fmt.Errorf("not a Gemfile.lock: no GEM section")
	}
	for i, a := range out {
		full := a.Version
		if a.Platform != "" {
			full += "-" + a.Platform
		}
		if sum := sums[a.Name+" ("+full+")"]; sum != nil {
			out[i].Digests = []Digest{{Algo: "sha256", Sum: sum}}
		}
	}
	sortArtifacts(out)
	return out, nil
}

// splitGemPlatform splits "1.15.5-x86_64-linux" into version and platform;
// versions have no "-" (prereleases use ".").
func splitGemPlatform(s string) (version, platform string, ok bool) {
	return strings.Cut(s, "-")
}

// requirementLine is a pinned requirement: name, optional extras, "==",
// the version.
var requirementLine = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;\\]+)`)

// parseRequirements reads a pip requirements file of pinned requirements
// (https://pip.pypa.io/en/stable/reference/requirements-file-format/),
// with --hash options where pip-compile --generate-hashes wrote them.
// An unpinned requirement is an error: it names no artifact.
func parseRequirements(b []byte) ([]Artifact, error) {
	// join continuation lines
	text := strings.ReplaceAll(string(b), "\\\r\n", " ")
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []Artifact
	for n, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '-' {
			continue // comments and options (-r, -c, --index-url ...)
		}
		m := requirementLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: %q is not pinned with ==", n+1, line)
		}
		a := Artifact{Format: "pypi", Name: m[1], Version: m[2]}
		for _, f := range strings.Fields(line) {
			if h, ok := strings.CutPrefix(f, "--hash="); ok {
				algo, hexSum, _ := strings.Cut(h, ":")
				if sum, err := hex.DecodeString(hexSum); err == nil {
					a.Digests = append(a.Digests, Digest{Algo: algo, Sum: sum})
				}
			}
		}
		out = append(out, a)
	}
	sortArtifacts(out)
	return out, nil
}

func sortArtifacts(a []Artifact) {
	sort.Slice(a, func(i, j int) bool { return a[i].String() < a[j].String() })
}
