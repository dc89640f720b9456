package rubygems

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// fixtureGem is a gem the tests build with `gem build`.
type fixtureGem struct {
	name, version, platform string
	deps                    []string // `s.add_dependency` arguments, Ruby literals
	ruby                    string   // required_ruby_version, "" for none
	created                 string   // created_at of the info line (v2 servers), "" for none
}

// The fixture set: names with '-' and '_', a pre-release, a platform gem
// beside the ruby one, dependencies, and a name the domain also publishes
// internally (acme-secret) at a higher version upstream.
var fixtureSet = []fixtureGem{
	{name: "rack-lite", version: "2.0.0"},
	{name: "rack-lite", version: "2.0.1"},
	{name: "rack-lite", version: "2.0.1", platform: "x86_64-linux"},
	{name: "demo_gem", version: "0.9.0", created: "2024-01-10T12:00:00Z"},
	{name: "demo_gem", version: "1.0.0", deps: []string{`"rack-lite", ">= 2.0", "< 4"`}, ruby: ">= 2.5.0", created: "2024-02-01T08:30:00Z"},
	{name: "demo_gem", version: "1.1.0.pre.1", deps: []string{`"rack-lite", "~> 2.0"`}, created: "2024-03-15T16:45:00Z"},
	{name: "acme-secret", version: "2.0.0"},
}

// Gems published inside the domain by the tests.
var internalSet = []fixtureGem{
	{name: "acme-secret", version: "1.0.0", deps: []string{`"rack-lite", ">= 2.0"`}},
	{name: "acme-secret", version: "1.1.0"},
}

// builtGem is a fixture gem built, with what rubygems.org would serve of it.
type builtGem struct {
	fixtureGem
	key   string // version[-platform]
	file  string // name-key.gem
	body  []byte
	sha   string
	quick []byte // Ruby's own Marshal.dump of the spec, deflated
	line  string // its line of the info file
}

var (
	fixturesOnce sync.Once
	fixturesDir  string
	fixturesErr  error
	fixtureGems  map[string]*builtGem // by file name
)

// engines are PostgreSQL and SeaweedFS, started for the replicas test.
var engines *enginetest.Engines

func TestMain(m *testing.M) { os.Exit(enginetest.MainRemoving(m, &engines, &fixturesDir)) }

// fixtures builds every fixture gem once per test binary. It skips the test
// when Ruby is missing (fails under STOCKPILE_E2E=require).
func fixtures(t testing.TB) map[string]*builtGem {
	t.Helper()
	proxytest.RequireTool(t, "gem")
	proxytest.RequireTool(t, "ruby")
	fixturesOnce.Do(func() { fixtureGems, fixturesErr = buildFixtures() })
	if fixturesErr != nil {
		t.Fatalf("building fixture gems: %v", fixturesErr)
	}
	return fixtureGems
}

func fixture(t testing.TB, name, key string) *builtGem {
	t.Helper()
	g := fixtures(t)[name+"-"+key+".gem"]
	if g == nil {
		t.Fatalf("no fixture gem %s-%s", name, key)
	}
	return g
}

func gemspecSource(g fixtureGem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Gem::Specification.new do |s|\n")
	fmt.Fprintf(&b, "  s.name = %q\n  s.version = %q\n", g.name, g.version)
	if g.platform != "" {
		fmt.Fprintf(&b, "  s.platform = %q\n", g.platform)
	}
	fmt.Fprintf(&b, "  s.summary = %q\n  s.authors = [\"Stockpile\"]\n  s.license = \"MIT\"\n", "Fixture "+g.name)
	fmt.Fprintf(&b, "  s.homepage = \"https://example.invalid/%s\"\n", g.name)
	fmt.Fprintf(&b, "  s.metadata = { \"source_code_uri\" => \"https://example.invalid/%s.git\" }\n", g.name)
	fmt.Fprintf(&b, "  s.files = [\"lib/%s.rb\"]\n", g.name)
	if g.ruby != "" {
		fmt.Fprintf(&b, "  s.required_ruby_version = %q\n", g.ruby)
	}
	for _, d := range g.deps {
		fmt.Fprintf(&b, "  s.add_dependency %s\n", d)
	}
	fmt.Fprintf(&b, "  s.add_development_dependency \"rake\", \">= 10\"\n")
	b.WriteString("end\n")
	return b.String()
}

// describeScript prints, for each .gem, its key and the info line
// rubygems.org would write, and writes the quick gemspec beside it.
const describeScript = `
require "json"; require "zlib"; require "digest"; require "rubygems/package"
def reqs(r) r.requirements.map { |op, v| "#{op} #{v}" }.join("&") end
out = ARGV.map do |f|
  spec = Gem::Package.new(f).spec
  deps = spec.runtime_dependencies.map { |d| "#{d.name}:#{reqs(d.requirement)}" }.join(",")
  r = ["checksum:#{Digest::SHA256.file(f).hexdigest}"]
  r << "ruby:#{reqs(spec.required_ruby_version)}" unless spec.required_ruby_version == Gem::Requirement.default
  r << "rubygems:#{reqs(spec.required_rubygems_version)}" unless spec.required_rubygems_version == Gem::Requirement.default
  key = spec.platform.to_s == "ruby" ? spec.version.to_s : "#{spec.version}-#{spec.platform}"
  File.binwrite(f + ".rz", Zlib::Deflate.deflate(Marshal.dump(spec)))
  { "file" => File.basename(f), "key" => key, "line" => "#{key} #{deps}|#{r.join(",")}" }
end
puts JSON.dump(out)
`

func buildFixtures() (map[string]*builtGem, error) {
	dir, err := os.MkdirTemp("", "stockpile-rubygems-fixtures-")
	if err != nil {
		return nil, err
	}
	fixturesDir = dir
	all := append(append([]fixtureGem(nil), fixtureSet...), internalSet...)
	paths := make([]string, len(all))
	var wg sync.WaitGroup
	errs := make([]error, len(all))
	sem := make(chan struct{}, 2)
	for i, g := range all {
		src := filepath.Join(dir, fmt.Sprintf("src%d", i))
		if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
			return nil, err
		}
		os.WriteFile(filepath.Join(src, "lib", g.name+".rb"), []byte("module Fixture; NAME = "+fmt.Sprintf("%q", g.name+" "+g.version)+"; end\n"), 0o644)
		os.WriteFile(filepath.Join(src, "fixture.gemspec"), []byte(gemspecSource(g)), 0o644)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command("gem", "build", "fixture.gemspec", "--output", "out.gem")
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "HOME="+src, "SOURCE_DATE_EPOCH=1704067200")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("gem build %s %s: %v\n%s", g.name, g.version, err, out)
				return
			}
			full := g.name + "-" + g.version
			if g.platform != "" {
				full += "-" + g.platform
			}
			paths[i] = filepath.Join(dir, full+".gem")
			errs[i] = os.Rename(filepath.Join(src, "out.gem"), paths[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out, err := exec.Command("ruby", append([]string{"-e", describeScript}, paths...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("describing the fixture gems: %v", err)
	}
	var described []struct{ File, Key, Line string }
	if err := json.Unmarshal(out, &described); err != nil {
		return nil, err
	}
	gems := map[string]*builtGem{}
	for i, d := range described {
		g := &builtGem{fixtureGem: all[i], key: d.Key, file: d.File, line: d.Line}
		if g.body, err = os.ReadFile(paths[i]); err != nil {
			return nil, err
		}
		if g.quick, err = os.ReadFile(paths[i] + ".rz"); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(g.body)
		g.sha = hex.EncodeToString(sum[:])
		if g.created != "" {
			g.line += ",created_at:" + g.created
		}
		gems[g.file] = g
	}
	return gems, nil
}

// fakeSource is a fake rubygems.org on loopback: a real compact index
// (/versions appended to as gems are published, /info/{gem}, /names), the
// .gem files and the quick gemspecs.
type fakeSource struct {
	Fake *upstreamtest.Server

	mu       sync.Mutex
	order    []string               // gem names, first publication order
	gems     map[string][]*builtGem // name → versions in publication order
	versions bytes.Buffer           // the /versions file
	infoMD5  map[string]string      // name → MD5 of its info file
	yanked   map[string]map[string]bool
}

func newFakeSource(t testing.TB) *fakeSource {
	s := &fakeSource{Fake: upstreamtest.New(t), gems: map[string][]*builtGem{}, infoMD5: map[string]string{}, yanked: map[string]map[string]bool{}}
	s.versions.WriteString("created_at: 2024-04-01T00:00:00Z\n---\n")
	s.serveIndex()
	return s
}

func digestHeader(b []byte) http.Header {
	sum := sha256.Sum256(b)
	m := md5.Sum(b)
	return http.Header{
		"Repr-Digest": {"sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"},
		"Etag":        {`"` + hex.EncodeToString(m[:]) + `"`},
	}
}

func (s *fakeSource) serveIndex() {
	s.Fake.Handle("/versions", upstreamtest.Response{Body: s.versions.Bytes(), ContentType: "text/plain; charset=utf-8", Header: digestHeader(s.versions.Bytes())})
	names := append([]string(nil), s.order...)
	sort.Strings(names)
	body := []byte("---\n" + strings.Join(names, "\n"))
	if len(names) > 0 {
		body = append(body, '\n')
	}
	s.Fake.Handle("/names", upstreamtest.Response{Body: body, ContentType: "text/plain; charset=utf-8", Header: digestHeader(body)})
}

// info is the current info file of a gem.
func (s *fakeSource) info(name string) []byte {
	var b bytes.Buffer
	b.WriteString("---\n")
	for _, g := range s.gems[name] {
		if !s.yanked[name][g.key] {
			b.WriteString(g.line + "\n")
		}
	}
	return b.Bytes()
}

func (s *fakeSource) writeInfo(name string) string {
	body := s.info(name)
	s.Fake.Handle("/info/"+name, upstreamtest.Response{Body: body, ContentType: "text/plain; charset=utf-8", Header: digestHeader(body)})
	m := md5.Sum(body)
	s.infoMD5[name] = hex.EncodeToString(m[:])
	return s.infoMD5[name]
}

// publish makes the source offer gems, appending to /versions as
// rubygems.org does (one line per gem and call).
func (s *fakeSource) publish(gems ...*builtGem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byName := map[string][]string{}
	var names []string
	for _, g := range gems {
		if _, ok := s.gems[g.name]; !ok {
			s.order = append(s.order, g.name)
		}
		if _, ok := byName[g.name]; !ok {
			names = append(names, g.name)
		}
		s.gems[g.name] = append(s.gems[g.name], g)
		byName[g.name] = append(byName[g.name], g.key)
		s.Fake.Handle("/gems/"+g.file, upstreamtest.Response{Body: g.body, ContentType: "application/octet-stream"})
		s.Fake.Handle("/quick/Marshal.4.8/"+strings.TrimSuffix(g.file, ".gem")+".gemspec.rz", upstreamtest.Response{Body: g.quick, ContentType: "application/octet-stream"})
	}
	for _, n := range names {
		fmt.Fprintf(&s.versions, "%s %s %s\n", n, strings.Join(byName[n], ","), s.writeInfo(n))
	}
	s.serveIndex()
}

// yank removes a version from the source's index, as rubygems.org does
// (the .gem goes too).
func (s *fakeSource) yank(g *builtGem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.yanked[g.name] == nil {
		s.yanked[g.name] = map[string]bool{}
	}
	s.yanked[g.name][g.key] = true
	s.Fake.Remove("/gems/" + g.file)
	fmt.Fprintf(&s.versions, "%s -%s %s\n", g.name, g.key, s.writeInfo(g.name))
	s.serveIndex()
}

// publishFixtures publishes the whole upstream fixture set.
func (s *fakeSource) publishFixtures(t testing.TB) {
	t.Helper()
	var gems []*builtGem
	for _, f := range fixtureSet {
		key := f.version
		if f.platform != "" {
			key += "-" + f.platform
		}
		gems = append(gems, fixture(t, f.name, key))
	}
	s.publish(gems...)
}

// ctx is a test context.
func ctx(t testing.TB) context.Context { return t.Context() }
