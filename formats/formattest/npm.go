package formattest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"
)

// Default sizes of GenerateNPM: a mid-sized package as npm install sees it.
const (
	defaultPackumentSize = 160 << 10
	defaultTarballSize   = 300 << 10
)

// NPMOptions describe the npm package GenerateNPM builds.
type NPMOptions struct {
	// Name is the package name, unscoped.
	Name string
	// Upstream is the base URL the package is served from (a fake
	// registry's); every dist.tarball points below it.
	Upstream string
	// PackumentSize and TarballSize are the sizes to come close to, in
	// bytes; zero takes the defaults (160 KiB and 300 KiB).
	PackumentSize int
	TarballSize   int
}

// NPMPackage is a generated npm package: a full packument of many versions
// 1.0.0 … 1.0.N and the tarball of the newest one (the others are listed
// with well-formed digests but have no bytes).
type NPMPackage struct {
	Name      string
	Version   string // the newest version, the one whose tarball exists
	Versions  int
	Packument []byte
	Tarball   []byte
	Integrity string // "sha512-" + base64(sha512(Tarball))
	Shasum    string // hex(sha1(Tarball))
}

// npmName: the unscoped npm names GenerateNPM accepts (lower case, no path).
var npmName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,200}$`)

// PackumentPath returns the packument's path in the registry, "/{name}".
func (p *NPMPackage) PackumentPath() string { return "/" + p.Name }

// TarballPath returns the newest tarball's path, "/{name}/-/{name}-{version}.tgz".
func (p *NPMPackage) TarballPath() string { return NPMTarballPath(p.Name, p.Version) }

// NPMTarballPath returns where the public registry serves a tarball of an
// unscoped package: "/{name}/-/{name}-{version}.tgz".
func NPMTarballPath(name, version string) string {
	return "/" + name + "/-/" + name + "-" + version + ".tgz"
}

// GenerateNPM builds a package whose packument and tarball come within a
// few per cent of the sizes asked. The bytes depend only on the options,
// so runs are reproducible.
func GenerateNPM(o NPMOptions) (*NPMPackage, error) {
	if !npmName.MatchString(o.Name) {
		return nil, fmt.Errorf("npm fixture: package name %q: want an unscoped lower-case npm name", o.Name)
	}
	if o.PackumentSize <= 0 {
		o.PackumentSize = defaultPackumentSize
	}
	if o.TarballSize <= 0 {
		o.TarballSize = defaultTarballSize
	}
	rng := RNG(o.Name)

	// The packument's size sets how many versions there are, and the newest
	// version names the tarball: estimate the count from one- and
	// two-version documents, then correct.
	g := NPMPackument{Name: o.Name, Base: strings.TrimSuffix(o.Upstream, "/"), Readme: Readme(o.Name, rng)}
	one, err := g.Render(1, "", "")
	if err != nil {
		return nil, err
	}
	two, err := g.Render(2, "", "")
	if err != nil {
		return nil, err
	}
	per := max(len(two)-len(one), 1)
	n := max(1, 1+(o.PackumentSize-len(one)+per/2)/per)
	version := fmt.Sprintf("1.0.%d", n-1)

	tgz := NPMTarball(o.Name, version, o.TarballSize, rng)
	p := &NPMPackage{
		Name:      o.Name,
		Version:   version,
		Versions:  n,
		Tarball:   tgz,
		Integrity: NPMIntegrity(tgz),
		Shasum:    SHA1(tgz),
	}
	p.Packument, err = g.Render(n, p.Integrity, p.Shasum)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Registry is p as the public registry serves it: the packument at
// /{name} and the newest tarball.
func (p *NPMPackage) Registry() *Registry {
	return &Registry{
		Files: map[string][]byte{p.Name: p.Packument, p.TarballPath()[1:]: p.Tarball},
		Types: map[string]string{"": "application/json", "tgz": "application/octet-stream"},
		Metadata: Doc{Pair: "packument", Path: p.PackumentPath(), ProxyPath: p.PackumentPath(), Accept: "application/json",
			Body: p.Packument, Contains: p.Integrity},
		Artifact: Doc{Pair: "tarball", Path: p.TarballPath(), ProxyPath: p.TarballPath(), Body: p.Tarball},
		Info:     map[string]any{"package": p.Name, "version": p.Version, "versions": p.Versions},
	}
}

// CheckPackument checks that a packument served for p lists p's versions,
// the newest with p's digests, and returns that version's dist.tarball.
func (p *NPMPackage) CheckPackument(doc []byte) (string, error) {
	var d struct {
		Name     string `json:"name"`
		Versions map[string]struct {
			Dist struct {
				Tarball   string `json:"tarball"`
				Integrity string `json:"integrity"`
				Shasum    string `json:"shasum"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	if d.Name != p.Name {
		return "", fmt.Errorf("name %q, want %q", d.Name, p.Name)
	}
	if len(d.Versions) != p.Versions {
		return "", fmt.Errorf("%d versions, want %d", len(d.Versions), p.Versions)
	}
	v, ok := d.Versions[p.Version]
	if !ok {
		return "", fmt.Errorf("version %s is missing", p.Version)
	}
	if v.Dist.Integrity != p.Integrity || v.Dist.Shasum != p.Shasum {
		return "", fmt.Errorf("version %s: dist.integrity %q and shasum %q, want %q and %q", p.Version, v.Dist.Integrity, v.Dist.Shasum, p.Integrity, p.Shasum)
	}
	return v.Dist.Tarball, nil
}

// NPMIntegrity is a body's Subresource Integrity string as npm writes it
// in dist.integrity: "sha512-" and the base64 of its SHA-512.
func NPMIntegrity(b []byte) string { return "sha512-" + base64.StdEncoding.EncodeToString(SHA512(b)) }

// NPMPackument renders the packuments of a package whose tarballs are
// served below Base (no trailing slash).
type NPMPackument struct {
	Name, Base, Readme string
}

type npmPerson struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

type npmRepository struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type npmBugs struct {
	URL string `json:"url"`
}

type npmSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

type npmDist struct {
	Integrity    string         `json:"integrity"`
	Shasum       string         `json:"shasum"`
	Tarball      string         `json:"tarball"`
	FileCount    int            `json:"fileCount"`
	UnpackedSize int            `json:"unpackedSize"`
	Signatures   []npmSignature `json:"signatures"`
}

// npmVersionDoc is one version as the public registry lists it: the
// publisher's package.json plus the registry's underscore fields and dist.
type npmVersionDoc struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Description     string            `json:"description"`
	Main            string            `json:"main"`
	Types           string            `json:"types"`
	Files           []string          `json:"files"`
	Scripts         map[string]string `json:"scripts"`
	Repository      npmRepository     `json:"repository"`
	Keywords        []string          `json:"keywords"`
	Author          npmPerson         `json:"author"`
	License         string            `json:"license"`
	Bugs            npmBugs           `json:"bugs"`
	Homepage        string            `json:"homepage"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Engines         map[string]string `json:"engines"`
	GitHead         string            `json:"gitHead"`
	ID              string            `json:"_id"`
	NodeVersion     string            `json:"_nodeVersion"`
	NpmVersion      string            `json:"_npmVersion"`
	NpmUser         npmPerson         `json:"_npmUser"`
	Maintainers     []npmPerson       `json:"maintainers"`
	Dist            npmDist           `json:"dist"`
	Directories     struct{}          `json:"directories"`
	HasShrinkwrap   bool              `json:"_hasShrinkwrap"`
}

type npmPackumentDoc struct {
	ID             string                    `json:"_id"`
	Rev            string                    `json:"_rev"`
	Name           string                    `json:"name"`
	Description    string                    `json:"description"`
	DistTags       map[string]string         `json:"dist-tags"`
	Versions       map[string]*npmVersionDoc `json:"versions"`
	Time           map[string]string         `json:"time"`
	Maintainers    []npmPerson               `json:"maintainers"`
	Author         npmPerson                 `json:"author"`
	Repository     npmRepository             `json:"repository"`
	Homepage       string                    `json:"homepage"`
	Bugs           npmBugs                   `json:"bugs"`
	License        string                    `json:"license"`
	Keywords       []string                  `json:"keywords"`
	Readme         string                    `json:"readme"`
	ReadmeFilename string                    `json:"readmeFilename"`
	Users          map[string]bool           `json:"users"`
}

// Render returns the packument of versions 1.0.0 … 1.0.(n-1); the newest
// gets the given digests (placeholders derived from the version when empty).
func (g NPMPackument) Render(n int, integrity, shasum string) ([]byte, error) {
	maint := []npmPerson{{Name: "bench-maintainer", Email: "maintainer@example.com"}}
	repo := npmRepository{Type: "git", URL: "git+https://example.com/stockpile-bench/" + g.Name + ".git"}
	home := "https://example.com/stockpile-bench/" + g.Name + "#readme"
	bg := npmBugs{URL: "https://example.com/stockpile-bench/" + g.Name + "/issues"}
	desc := "Generated fixture " + g.Name + " for Stockpile's benchmark"
	kw := []string{"bench", "fixture", "stockpile", "cache"}
	epoch := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

	doc := npmPackumentDoc{
		ID: g.Name, Name: g.Name, Description: desc,
		Rev:         fmt.Sprintf("%d-%016x", n, Hash64(g.Name)),
		DistTags:    map[string]string{},
		Versions:    make(map[string]*npmVersionDoc, n),
		Time:        make(map[string]string, n+2),
		Maintainers: maint, Author: maint[0], Repository: repo, Homepage: home, Bugs: bg,
		License: "MIT", Keywords: kw, Readme: g.Readme, ReadmeFilename: "README.md",
		Users: map[string]bool{},
	}
	for i := range n {
		v := fmt.Sprintf("1.0.%d", i)
		integ, sha := integrity, shasum
		if i != n-1 || integ == "" {
			placeholder := []byte(g.Name + "@" + v)
			integ, sha = NPMIntegrity(placeholder), SHA1(placeholder)
		}
		doc.Versions[v] = &npmVersionDoc{
			Name: g.Name, Version: v, Description: desc,
			Main: "lib/index.js", Types: "lib/index.d.ts",
			Files:      []string{"lib/", "README.md"},
			Scripts:    map[string]string{"test": "node --test", "build": "tsc -p .", "lint": "eslint ."},
			Repository: repo, Keywords: kw, Author: maint[0], License: "MIT", Bugs: bg, Homepage: home,
			Dependencies:    map[string]string{"left-pad": "^1.3.0", "ms": "^2.1.3", "debug": "^4.3.4"},
			DevDependencies: map[string]string{"typescript": "^5.4.0", "eslint": "^9.0.0"},
			Engines:         map[string]string{"node": ">=18"},
			GitHead:         fmt.Sprintf("%016x%016x%08x", Hash64(v), Hash64(g.Name+v), i),
			ID:              g.Name + "@" + v,
			NodeVersion:     "20.20.2",
			NpmVersion:      "11.19.1",
			NpmUser:         maint[0],
			Maintainers:     maint,
			Dist: npmDist{
				Integrity: integ, Shasum: sha,
				Tarball:   g.Base + NPMTarballPath(g.Name, v),
				FileCount: 3, UnpackedSize: 300_000 + i,
				Signatures: []npmSignature{{
					KeyID: "SHA256:bench-fixture-key",
					Sig:   base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%064x", Hash64(integ)))),
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
		return nil, fmt.Errorf("npm fixture: packument: %w", err)
	}
	return out, nil
}

// NPMTarball builds a real .tgz (package/package.json, package/README.md
// and package/lib/data.bin of random, incompressible bytes) of about size
// bytes, so that npm itself could install it.
func NPMTarball(name, version string, size int, rng *rand.Rand) []byte {
	pkg := fmt.Sprintf("{\n  \"license\": \"MIT\",\n  \"main\": \"lib/index.js\",\n  \"name\": %q,\n  \"version\": %q\n}", name, version)
	files := []File{
		Text("package/package.json", pkg),
		Text("package/README.md", "# "+name+"\n\nA generated benchmark fixture.\n"),
	}
	// Headers and padding: 512 bytes per file plus the 1024-byte trailer;
	// gzip adds a few bytes on incompressible data.
	overhead := 1024 + 64
	for _, f := range files {
		overhead += 512 + (len(f.Body)+511)/512*512
	}
	data := Random(rng, max(size-overhead-512, 1))
	return TarGz(append(files, File{Name: "package/lib/data.bin", Body: data})...)
}

// Readme returns a markdown readme of about 8 KB.
func Readme(name string, rng *rand.Rand) string {
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
