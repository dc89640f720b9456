package nuget_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// fixtureDir holds what the test binary builds once (packages, NuGet.exe's
// home while packing); TestMain removes it.
var fixtureDir string

// engines are PostgreSQL and SeaweedFS, started for the replicas tests.
var engines *enginetest.Engines

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stockpile-nuget-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	os.Exit(enginetest.MainRemoving(m, &engines, &fixtureDir))
}

// nugetExeLocations are where CI and developers install NuGet.exe 5.8: the
// npm package nuget-exe@5.8.0, globally or under /opt/nuget-exe.
var nugetExeLocations = []string{
	"/usr/local/lib/node_modules/nuget-exe/nuget-5.8.0.exe",
	"/usr/lib/node_modules/nuget-exe/nuget-5.8.0.exe",
	"/opt/nuget-exe/node_modules/nuget-exe/nuget-5.8.0.exe",
	"/usr/local/lib/nuget/nuget.exe",
}

// findNuGetExe returns the path of nuget.exe: $STOCKPILE_NUGET_EXE, else
// the first known location that exists, else "".
func findNuGetExe() string {
	if p := os.Getenv("STOCKPILE_NUGET_EXE"); p != "" {
		return p
	}
	locs := append([]string(nil), nugetExeLocations...)
	if home, err := os.UserHomeDir(); err == nil {
		locs = append(locs, filepath.Join(home, ".npm-global/lib/node_modules/nuget-exe/nuget-5.8.0.exe"))
	}
	for _, p := range locs {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// requireNuGetExe finds mono and nuget.exe for a real-client test: it skips
// when either is missing, except under STOCKPILE_E2E=require (CI), where it
// fails.
func requireNuGetExe(t *testing.T) (mono, exe string) {
	t.Helper()
	mono = proxytest.RequireTool(t, "mono")
	exe = findNuGetExe()
	if exe == "" {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatalf("nuget.exe is required (STOCKPILE_E2E=require) but not found: set STOCKPILE_NUGET_EXE or install the npm package nuget-exe@5.8.0")
		}
		t.Skip("nuget.exe not installed (npm package nuget-exe@5.8.0, or STOCKPILE_NUGET_EXE)")
	}
	return mono, exe
}

// spec is a package to build: id and version as written in its .nuspec.
type spec struct {
	id, version string
	description string
	deps        []specDep // in a netstandard2.0 group
	content     string    // content/readme.txt
}

type specDep struct{ id, rng string }

func (s spec) nuspec() string {
	var deps string
	if len(s.deps) > 0 {
		deps = "\n    <dependencies>\n      <group targetFramework=\"netstandard2.0\">\n"
		for _, d := range s.deps {
			deps += fmt.Sprintf("        <dependency id=%q version=%q />\n", d.id, d.rng)
		}
		deps += "      </group>\n    </dependencies>"
	}
	desc := s.description
	if desc == "" {
		desc = s.id + " for tests."
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>%s</id>
    <version>%s</version>
    <authors>Contoso</authors>
    <description>%s</description>
    <tags>contoso tests</tags>%s
  </metadata>
  <files><file src="readme.txt" target="content/readme.txt" /></files>
</package>
`, s.id, s.version, desc, deps)
}

// built is a package made from a spec.
type built struct {
	spec
	data []byte
	key  string // normalised, lower-cased version: the flat container's
}

func (b *built) lowerID() string { return strings.ToLower(b.id) }
func (b *built) file() string    { return b.lowerID() + "." + b.key + ".nupkg" }

var packed struct {
	sync.Mutex
	m map[string]*built
}

// pack builds a package once per test binary: with `mono nuget.exe pack`
// when NuGet.exe is installed (always in CI), else with an equivalent zip
// written here, so the protocol tests also run where mono is missing.
func pack(t *testing.T, s spec, key string) *built {
	t.Helper()
	packed.Lock()
	defer packed.Unlock()
	if packed.m == nil {
		packed.m = map[string]*built{}
	}
	cacheKey := s.nuspec() + "\x00" + s.content
	if b, ok := packed.m[cacheKey]; ok {
		return b
	}
	content := s.content
	if content == "" {
		content = s.id + " " + s.version + "\n"
	}
	var data []byte
	mono, _ := exec.LookPath("mono")
	exe := findNuGetExe()
	switch {
	case mono != "" && exe != "":
		data = nugetPack(t, mono, exe, s, content)
	case os.Getenv("STOCKPILE_E2E") == "require":
		t.Fatalf("mono and nuget.exe are required to build fixtures (STOCKPILE_E2E=require)")
	default:
		data = goPack(t, s, key, content)
	}
	b := &built{spec: s, data: data, key: key}
	packed.m[cacheKey] = b
	return b
}

func nugetPack(t *testing.T, mono, exe string, s spec, content string) []byte {
	t.Helper()
	dir, err := os.MkdirTemp(fixtureDir, "pack-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.nuspec"), []byte(s.nuspec()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mono, exe, "pack", "p.nuspec", "-OutputDirectory", "out", "-NonInteractive", "-NoDefaultExcludes")
	cmd.Dir = dir
	cmd.Env = isolatedEnv(filepath.Join(fixtureDir, "home"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nuget pack %s %s: %v\n%s", s.id, s.version, err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "*.nupkg"))
	if len(files) != 1 {
		t.Fatalf("nuget pack %s %s made %v\n%s", s.id, s.version, files, out)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// goPack writes what nuget pack writes, closely enough: the OPC parts, the
// nuspec (with the normalised version, as pack writes it) and the content.
func goPack(t *testing.T, s spec, key, content string) []byte {
	t.Helper()
	ns := strings.Replace(s.nuspec(), "<version>"+s.version+"</version>", "<version>"+normalizedFull(s.version, key)+"</version>", 1)
	ns = strings.Replace(ns, "\n  <files><file src=\"readme.txt\" target=\"content/readme.txt\" /></files>", "", 1)
	return formattest.Nupkg(s.id, []byte(ns), formattest.Text("content/readme.txt", content))
}

// normalizedFull keeps build metadata on the normalised version.
func normalizedFull(written, key string) string {
	if _, meta, ok := strings.Cut(written, "+"); ok {
		return key + "+" + meta
	}
	if i := strings.IndexByte(written, '-'); i >= 0 {
		// keep the label's case, as pack does
		return strings.SplitN(key, "-", 2)[0] + written[i:]
	}
	return key
}

// isolatedEnv is the environment of a NuGet.exe run: its own HOME, package
// folders and caches, so nothing of the machine's leaks in or out.
func isolatedEnv(home string) []string {
	os.MkdirAll(filepath.Join(home, "tmp"), 0o755)
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"NUGET_PACKAGES=" + filepath.Join(home, "packages"),
		"NUGET_HTTP_CACHE_PATH=" + filepath.Join(home, "http-cache"),
		"NUGET_PLUGINS_CACHE_PATH=" + filepath.Join(home, "plugins-cache"),
		"MONO_REGISTRY_PATH=" + filepath.Join(home, ".mono-registry"),
		"TMPDIR=" + filepath.Join(home, "tmp"),
	}
}

// The fixture set: a fake nuget.org holds all but the internal packages.
func coreV1(t *testing.T) *built {
	// A version written the way no client would address it.
	return pack(t, spec{id: "Contoso.Core", version: "1.01.0.0"}, "1.1.0")
}
func coreV2(t *testing.T) *built { return pack(t, spec{id: "Contoso.Core", version: "2.0.0"}, "2.0.0") }
func widgetsV1(t *testing.T) *built {
	return pack(t, spec{id: "Contoso.Widgets", version: "1.0.0"}, "1.0.0")
}
func widgetsBeta(t *testing.T) *built {
	return pack(t, spec{id: "Contoso.Widgets", version: "1.1.0-beta.1"}, "1.1.0-beta.1")
}
func widgetsV2(t *testing.T) *built {
	return pack(t, spec{id: "Contoso.Widgets", version: "2.0.0+build.7", description: "Widget helpers.",
		deps: []specDep{{"Contoso.Core", "[1.1.0, )"}}}, "2.0.0")
}
func manyVersions(t *testing.T) []*built {
	return []*built{
		pack(t, spec{id: "Contoso.Many", version: "1.0.0"}, "1.0.0"),
		pack(t, spec{id: "Contoso.Many", version: "1.1.0"}, "1.1.0"),
		pack(t, spec{id: "Contoso.Many", version: "2.0.0-Alpha"}, "2.0.0-alpha"),
	}
}
func publicInternal(t *testing.T) []*built {
	return []*built{
		pack(t, spec{id: "Contoso.Internal", version: "1.0.0", content: "public squatter 1.0.0\n"}, "1.0.0"),
		pack(t, spec{id: "Contoso.Internal", version: "9.0.0", content: "public squatter 9.0.0\n"}, "9.0.0"),
	}
}
func privateInternal(t *testing.T, version string) *built {
	return pack(t, spec{id: "Contoso.Internal", version: version, content: "internal " + version + "\n"}, version)
}

// fakeFeed is a fake nuget.org on loopback: a service index naming more
// resources than Stockpile uses (some elsewhere), a SemVer 1.0 hive it must
// not read, the gzip-encoded SemVer 2.0 hive (pages inlined, or on their
// own at mixed-case URLs for paged packages), the flat container and search.
type fakeFeed struct {
	t        *testing.T
	srv      *upstreamtest.Server
	pkgs     map[string][]*built // lower-cased id → versions
	unlisted map[string]bool     // lower id + "/" + key
	paged    map[string]int      // lower id → versions per separate page
	badHash  map[string]bool     // lower id + "/" + key: the declared hash is wrong
	// published overrides a listed version's publish time (lower id + "/" +
	// key); "" leaves the field out.
	published map[string]string
}

func newFakeFeed(t *testing.T, pkgs ...*built) *fakeFeed {
	t.Helper()
	f := &fakeFeed{t: t, srv: upstreamtest.New(t), pkgs: map[string][]*built{},
		unlisted: map[string]bool{}, paged: map[string]int{}, badHash: map[string]bool{}}
	f.add(pkgs...)
	return f
}

// add publishes versions and rewrites every document.
func (f *fakeFeed) add(pkgs ...*built) {
	for _, b := range pkgs {
		f.pkgs[b.lowerID()] = append(f.pkgs[b.lowerID()], b)
	}
	f.publish()
}

func (f *fakeFeed) hive() string { return f.srv.URL + "/v3/registration5-gz-semver2/" }
func (f *fakeFeed) flat() string { return f.srv.URL + "/v3-flatcontainer/" }
func (f *fakeFeed) nupkgPath(b *built) string {
	return "/v3-flatcontainer/" + b.lowerID() + "/" + b.key + "/" + b.file()
}

func (f *fakeFeed) publish() {
	u := f.srv.URL
	f.srv.Handle("/v3/index.json", upstreamtest.Response{ContentType: "application/json", Body: formattest.NuGetServiceIndex(u, f.hive(),
		map[string]string{"@id": "https://api.nuget.org/v3-index/repository-signatures/5.0.0/index.json", "@type": "RepositorySignatures/5.0.0"},
		map[string]string{"@id": "https://api.nuget.org/v3/catalog0/index.json", "@type": "Catalog/3.0.0"},
		map[string]string{"@id": "https://www.nuget.org/api/v2/package", "@type": "PackagePublish/2.0.0"},
	)})
	f.handleJSON("/query", map[string]any{"totalHits": 0, "data": []any{}}, false)
	for id, vs := range f.pkgs {
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].key < vs[j].key })
		var keys []string
		var leaves []map[string]any
		for _, b := range vs {
			keys = append(keys, b.key)
			f.srv.Handle(f.nupkgPath(b), upstreamtest.Response{Body: b.data, ContentType: "application/octet-stream"})
			leaves = append(leaves, f.leaf(b))
		}
		f.handleJSON("/v3-flatcontainer/"+id+"/index.json", map[string]any{"versions": keys}, false)
		index := f.hive() + id + "/index.json"
		var pages []map[string]any
		size := f.paged[id]
		if size == 0 {
			size = len(leaves)
		}
		for start := 0; start < len(leaves); start += size {
			end := min(start+size, len(leaves))
			lower, upper := vs[start].version, vs[end-1].version
			page := map[string]any{"count": end - start, "lower": lower, "upper": upper}
			if f.paged[id] == 0 {
				page["@id"] = index + "#page/" + lower + "/" + upper
				page["parent"] = index
				page["items"] = leaves[start:end]
			} else {
				// Mixed case, as upstream wrote it: it must be fetched verbatim.
				path := "/v3/registration5-gz-semver2/" + id + "/Page/" + lower + "/" + upper + ".json"
				page["@id"] = u + path
				full := map[string]any{"@id": u + path, "count": end - start, "lower": lower, "upper": upper, "parent": index, "items": leaves[start:end]}
				f.handleJSON(path, full, true)
			}
			pages = append(pages, page)
		}
		f.handleJSON("/v3/registration5-gz-semver2/"+id+"/index.json", map[string]any{"@id": index, "count": len(pages), "items": pages}, true)
	}
}

func (f *fakeFeed) leaf(b *built) map[string]any {
	id := b.lowerID()
	sum := sha512.Sum512(b.data)
	if f.badHash[id+"/"+b.key] {
		sum = sha512.Sum512([]byte("something else"))
	}
	listed := !f.unlisted[id+"/"+b.key]
	published := "2024-03-02T10:11:12.123+00:00"
	if !listed {
		published = "1900-01-01T00:00:00+00:00"
	}
	if p, ok := f.published[id+"/"+b.key]; ok && listed {
		published = p
	}
	content := f.srv.URL + f.nupkgPath(b)
	entry := map[string]any{
		"@id":                  "https://api.nuget.org/v3/catalog0/data/2024.03.02.10.11.12/" + id + "." + b.key + ".json",
		"@type":                "PackageDetails",
		"authors":              "Contoso",
		"description":          firstOf(b.description, b.id+" for tests."),
		"iconUrl":              f.flat() + id + "/" + b.key + "/icon",
		"id":                   b.id,
		"version":              b.version, // as written: 1.01.0.0 is normalised by Stockpile
		"listed":               listed,
		"published":            published,
		"packageContent":       content,
		"packageHash":          base64.StdEncoding.EncodeToString(sum[:]),
		"packageHashAlgorithm": "SHA512",
		"packageSize":          len(b.data),
		"tags":                 []string{"contoso", "tests"},
	}
	if p, ok := f.published[id+"/"+b.key]; ok && p == "" {
		delete(entry, "published")
	}
	if len(b.deps) > 0 {
		var deps []map[string]any
		for _, d := range b.deps {
			deps = append(deps, map[string]any{"@id": "https://api.nuget.org/x#dep", "@type": "PackageDependency",
				"id": d.id, "range": d.rng, "registration": f.hive() + strings.ToLower(d.id) + "/index.json"})
		}
		entry["dependencyGroups"] = []map[string]any{{"@id": "https://api.nuget.org/x#group", "targetFramework": ".NETStandard2.0", "dependencies": deps}}
	}
	return map[string]any{
		"@id": f.hive() + id + "/" + b.key + ".json", "@type": "Package",
		"catalogEntry": entry, "packageContent": content, "registration": f.hive() + id + "/index.json",
	}
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// handleJSON serves a document, gzip-encoded when gz (as nuget.org serves
// its registration5-gz hives).
func (f *fakeFeed) handleJSON(path string, v any, gz bool) {
	body, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	r := upstreamtest.Response{Body: body, ContentType: "application/json"}
	if gz {
		r.Body = formattest.Gzip(body)
		r.Header = http.Header{"Content-Encoding": {"gzip"}}
	}
	f.srv.Handle(path, r)
}

// standardFeed is the fake nuget.org with the whole public fixture set.
func standardFeed(t *testing.T) *fakeFeed {
	t.Helper()
	f := newFakeFeed(t)
	f.unlisted["contoso.widgets/1.0.0"] = true
	f.paged["contoso.many"] = 2
	all := []*built{coreV1(t), coreV2(t), widgetsV1(t), widgetsBeta(t), widgetsV2(t)}
	all = append(all, manyVersions(t)...)
	all = append(all, publicInternal(t)...)
	f.add(all...)
	return f
}
