package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Default fixture sizes: a mid-sized package as npm install sees it.
const (
	defaultPackumentSize = 160 << 10
	defaultTarballSize   = 300 << 10
)

// NPMFixtureOptions describe the npm package to generate.
type NPMFixtureOptions struct {
	// Name is the package name, unscoped.
	Name string
	// Upstream is the base URL the fixture is served from (nginx's); every
	// dist.tarball points below it.
	Upstream string
	// PackumentSize and TarballSize are the sizes to come close to, in
	// bytes; zero takes the defaults.
	PackumentSize int
	TarballSize   int
}

// NPMFixture is a generated npm package: a full packument of many versions
// 1.0.0 … 1.0.N and the tarball of the newest one (the others are listed
// with well-formed digests but have no bytes).
type NPMFixture struct {
	Name      string
	Version   string // the newest version, the one whose tarball exists
	Versions  int
	Packument []byte
	Tarball   []byte
	Integrity string // "sha512-" + base64(sha512(Tarball))
	Shasum    string // hex(sha1(Tarball))
}

// validName: unscoped npm names this tool generates (lower case, no path).
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,200}$`)

// PackumentPath returns the packument's path, "/{name}".
func (f *NPMFixture) PackumentPath() string { return "/" + f.Name }

// TarballPath returns the newest tarball's path, "/{name}/-/{name}-{version}.tgz".
func (f *NPMFixture) TarballPath() string { return tarballPath(f.Name, f.Version) }

func tarballPath(name, version string) string {
	return "/" + name + "/-/" + name + "-" + version + ".tgz"
}

// GenerateNPMFixture builds a package whose packument and tarball come
// within a few per cent of the sizes asked. The bytes depend only on the
// options, so runs are reproducible.
func GenerateNPMFixture(o NPMFixtureOptions) (*NPMFixture, error) {
	if !validName.MatchString(o.Name) {
		return nil, fmt.Errorf("fixture: package name %q: want an unscoped lower-case npm name", o.Name)
	}
	base := strings.TrimSuffix(o.Upstream, "/")
	if err := checkLoopback(base+"/", true); err != nil {
		return nil, fmt.Errorf("fixture: upstream: %w", err)
	}
	if o.PackumentSize <= 0 {
		o.PackumentSize = defaultPackumentSize
	}
	if o.TarballSize <= 0 {
		o.TarballSize = defaultTarballSize
	}
	seed := fnv64(o.Name)
	rng := rand.New(rand.NewChaCha8(seedBytes(seed)))

	// The packument's size sets how many versions there are, and the newest
	// version names the tarball: estimate the count from one- and
	// two-version documents, then correct.
	g := packumentGen{name: o.Name, base: base, readme: readme(o.Name, rng)}
	one, err := g.render(1, "", "")
	if err != nil {
		return nil, err
	}
	two, err := g.render(2, "", "")
	if err != nil {
		return nil, err
	}
	per := max(len(two)-len(one), 1)
	n := max(1, 1+(o.PackumentSize-len(one)+per/2)/per)
	version := fmt.Sprintf("1.0.%d", n-1)

	tgz, err := npmTarball(o.Name, version, o.TarballSize, rng)
	if err != nil {
		return nil, err
	}
	s512 := sha512.Sum512(tgz)
	s1 := sha1.Sum(tgz)
	f := &NPMFixture{
		Name:      o.Name,
		Version:   version,
		Versions:  n,
		Tarball:   tgz,
		Integrity: "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
		Shasum:    hex.EncodeToString(s1[:]),
	}
	f.Packument, err = g.render(n, f.Integrity, f.Shasum)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// WriteNginxRoot writes the files nginx serves under root: the tarball at
// root/{name}/-/{name}-{version}.tgz and the packument at
// root/.packuments/{name}.json (the path /{name} is a directory, so the
// nginx configuration maps it there). Everything is world-readable:
// nginx's workers run as nobody when the bench runs as root.
func (f *NPMFixture) WriteNginxRoot(root string) error {
	tgz := filepath.Join(root, filepath.FromSlash(f.TarballPath()))
	doc := filepath.Join(root, packumentDir, f.Name+".json")
	for _, d := range []string{filepath.Dir(tgz), filepath.Dir(doc)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
	}
	if err := os.WriteFile(tgz, f.Tarball, 0o644); err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	if err := os.WriteFile(doc, f.Packument, 0o644); err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	return nil
}

// packumentDir is where packuments live below nginx's root.
const packumentDir = ".packuments"

// packumentGen renders packuments of a given number of versions.
type packumentGen struct {
	name, base, readme string
}

type person struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

type repository struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type bugs struct {
	URL string `json:"url"`
}

type signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

type dist struct {
	Integrity    string      `json:"integrity"`
	Shasum       string      `json:"shasum"`
	Tarball      string      `json:"tarball"`
	FileCount    int         `json:"fileCount"`
	UnpackedSize int         `json:"unpackedSize"`
	Signatures   []signature `json:"signatures"`
}

// versionDoc is one version as the public registry lists it: the
// publisher's package.json plus the registry's underscore fields and dist.
type versionDoc struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Description     string            `json:"description"`
	Main            string            `json:"main"`
	Types           string            `json:"types"`
	Files           []string          `json:"files"`
	Scripts         map[string]string `json:"scripts"`
	Repository      repository        `json:"repository"`
	Keywords        []string          `json:"keywords"`
	Author          person            `json:"author"`
	License         string            `json:"license"`
	Bugs            bugs              `json:"bugs"`
	Homepage        string            `json:"homepage"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Engines         map[string]string `json:"engines"`
	GitHead         string            `json:"gitHead"`
	ID              string            `json:"_id"`
	NodeVersion     string            `json:"_nodeVersion"`
	NpmVersion      string            `json:"_npmVersion"`
	NpmUser         person            `json:"_npmUser"`
	Maintainers     []person          `json:"maintainers"`
	Dist            dist              `json:"dist"`
	Directories     struct{}          `json:"directories"`
	HasShrinkwrap   bool              `json:"_hasShrinkwrap"`
}

type packumentDoc struct {
	ID             string                 `json:"_id"`
	Rev            string                 `json:"_rev"`
	Name           string                 `json:"name"`
	Description    string                 `json:"description"`
	DistTags       map[string]string      `json:"dist-tags"`
	Versions       map[string]*versionDoc `json:"versions"`
	Time           map[string]string      `json:"time"`
	Maintainers    []person               `json:"maintainers"`
	Author         person                 `json:"author"`
	Repository     repository             `json:"repository"`
	Homepage       string                 `json:"homepage"`
	Bugs           bugs                   `json:"bugs"`
	License        string                 `json:"license"`
	Keywords       []string               `json:"keywords"`
	Readme         string                 `json:"readme"`
	ReadmeFilename string                 `json:"readmeFilename"`
	Users          map[string]bool        `json:"users"`
}

// render returns the packument of versions 1.0.0 … 1.0.(n-1); the newest
// gets the given digests (placeholders derived from the version when empty).
func (g packumentGen) render(n int, integrity, shasum string) ([]byte, error) {
	maint := []person{{Name: "bench-maintainer", Email: "maintainer@example.com"}}
	repo := repository{Type: "git", URL: "git+https://example.com/stockpile-bench/" + g.name + ".git"}
	home := "https://example.com/stockpile-bench/" + g.name + "#readme"
	bg := bugs{URL: "https://example.com/stockpile-bench/" + g.name + "/issues"}
	desc := "Generated fixture " + g.name + " for Stockpile's benchmark"
	kw := []string{"bench", "fixture", "stockpile", "cache"}
	epoch := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

	doc := packumentDoc{
		ID: g.name, Name: g.name, Description: desc,
		Rev:         fmt.Sprintf("%d-%016x", n, fnv64(g.name)),
		DistTags:    map[string]string{},
		Versions:    make(map[string]*versionDoc, n),
		Time:        make(map[string]string, n+2),
		Maintainers: maint, Author: maint[0], Repository: repo, Homepage: home, Bugs: bg,
		License: "MIT", Keywords: kw, Readme: g.readme, ReadmeFilename: "README.md",
		Users: map[string]bool{},
	}
	for i := range n {
		v := fmt.Sprintf("1.0.%d", i)
		integ, sha := integrity, shasum
		if i != n-1 || integ == "" {
			integ, sha = placeholderDigests(g.name, v)
		}
		doc.Versions[v] = &versionDoc{
			Name: g.name, Version: v, Description: desc,
			Main: "lib/index.js", Types: "lib/index.d.ts",
			Files:      []string{"lib/", "README.md"},
			Scripts:    map[string]string{"test": "node --test", "build": "tsc -p .", "lint": "eslint ."},
			Repository: repo, Keywords: kw, Author: maint[0], License: "MIT", Bugs: bg, Homepage: home,
			Dependencies:    map[string]string{"left-pad": "^1.3.0", "ms": "^2.1.3", "debug": "^4.3.4"},
			DevDependencies: map[string]string{"typescript": "^5.4.0", "eslint": "^9.0.0"},
			Engines:         map[string]string{"node": ">=18"},
			GitHead:         fmt.Sprintf("%016x%016x%08x", fnv64(v), fnv64(g.name+v), i),
			ID:              g.name + "@" + v,
			NodeVersion:     "20.20.2",
			NpmVersion:      "11.19.1",
			NpmUser:         maint[0],
			Maintainers:     maint,
			Dist: dist{
				Integrity: integ, Shasum: sha,
				Tarball:   g.base + tarballPath(g.name, v),
				FileCount: 3, UnpackedSize: 300_000 + i,
				Signatures: []signature{{
					KeyID: "SHA256:bench-fixture-key",
					Sig:   base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%064x", fnv64(integ)))),
				}},
			},
		}
		doc.Time[v] = epoch.Add(time.Duration(i) * 24 * time.Hour).Format(time.RFC3339Nano)
	}
	latest := fmt.Sprintf("1.0.%d", n-1)
	doc.DistTags["latest"] = latest
	doc.Time["created"] = epoch.Format(time.RFC3339Nano)
	doc.Time["modified"] = doc.Time[latest]
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("fixture: packument: %w", err)
	}
	return out, nil
}

// placeholderDigests returns well-formed digests for a version that has no
// tarball.
func placeholderDigests(name, version string) (integrity, shasum string) {
	s512 := sha512.Sum512([]byte(name + "@" + version))
	s1 := sha1.Sum([]byte(name + "@" + version))
	return "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), hex.EncodeToString(s1[:])
}

// npmTarball builds a real .tgz (package/package.json, package/README.md
// and package/lib/data.bin of random, incompressible bytes) of about size
// bytes, so that npm itself could install it.
func npmTarball(name, version string, size int, rng *rand.Rand) ([]byte, error) {
	pkg, err := json.MarshalIndent(map[string]any{
		"name": name, "version": version, "main": "lib/index.js", "license": "MIT",
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("fixture: tarball: %w", err)
	}
	files := []struct {
		name string
		body []byte
	}{
		{"package/package.json", pkg},
		{"package/README.md", []byte("# " + name + "\n\nA generated benchmark fixture.\n")},
	}
	// Headers and padding: 512 bytes per file plus the 1024-byte trailer;
	// gzip adds a few bytes on incompressible data.
	overhead := 1024 + 64
	for _, f := range files {
		overhead += 512 + (len(f.body)+511)/512*512
	}
	data := make([]byte, max(size-overhead-512, 1))
	for i := 0; i < len(data); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(data); j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	files = append(files, struct {
		name string
		body []byte
	}{"package/lib/data.bin", data})

	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("fixture: tarball: %w", err)
	}
	tw := tar.NewWriter(gz)
	mtime := time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC) // what npm pack writes
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("fixture: tarball: %w", err)
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, fmt.Errorf("fixture: tarball: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("fixture: tarball: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("fixture: tarball: %w", err)
	}
	return buf.Bytes(), nil
}

// readme returns a markdown readme of about 8 KB.
func readme(name string, rng *rand.Rand) string {
	words := []string{"cache", "package", "registry", "proxy", "install", "version", "tarball",
		"integrity", "upstream", "repository", "metadata", "client", "request", "latency", "bytes"}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nA generated package for benchmarking.\n\n## Usage\n\n```js\nconst x = require('%s')\n```\n\n", name, name)
	for b.Len() < 8<<10 {
		b.WriteString("## Section\n\n")
		for range 60 {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

// fnv64 is FNV-1a, for seeds and placeholders.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func seedBytes(seed uint64) [32]byte {
	var out [32]byte
	for i := range 4 {
		s := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			out[i*8+j] = byte(s >> (8 * j))
		}
	}
	return out
}
