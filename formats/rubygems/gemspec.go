package rubygems

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stockpile-proxy/stockpile/formats"
)

// What a .gem holds (a plain tar): metadata.gz, the gzipped YAML
// Gem::Specification; data.tar.gz, the files; checksums.yaml.gz, the
// digests of the other two, optional, as are signatures (*.sig).

// maxGemEntries bounds the members of a .gem tar.
const maxGemEntries = 32

// gemspec is the part of a Gem::Specification Stockpile reads and writes.
type gemspec struct {
	Name                 string
	Version              string
	Platform             string // "ruby" when none
	RubygemsVersion      string
	SpecificationVersion int
	Date                 time.Time
	Summary              any // nil or string
	Description          any // nil or string
	Homepage             any // nil or string
	Email                any // nil, string or []string
	Authors              []string
	Licenses             []string
	Metadata             [][2]string
	RequiredRuby         []requirement
	RequiredRubygems     []requirement
	Dependencies         []dependency
}

type requirement struct{ op, version string }

type dependency struct {
	name       string
	typ        string // "runtime" or "development"
	reqs       []requirement
	prerelease bool
}

// key is the model version of the gem.
func (s *gemspec) key() string { return versionKey(s.Version, s.Platform) }

// gemMember is what readGem keeps of a member of a .gem: the small ones
// whole, the digests of all.
type gemMember struct {
	body   []byte // metadata.gz and checksums.yaml.gz only
	head   []byte // the first bytes of data.tar.gz
	sha256 string
	sha512 string
}

// maxDataHead is how much of data.tar.gz is kept to check its start.
const maxDataHead = 64 << 10

// readGem checks a .gem, read as a stream, and returns its specification.
// maxMeta bounds what is held in memory: the compressed and the
// uncompressed metadata; data.tar.gz is hashed on the way, not kept.
func readGem(r io.Reader, maxMeta int64) (*gemspec, error) {
	tr := tar.NewReader(r)
	members := map[string]*gemMember{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("the gem is not a tar archive: %v", err)
		}
		if n >= maxGemEntries {
			return nil, invalid("the gem has more than %d members", maxGemEntries)
		}
		switch h.Name {
		case "metadata.gz", "data.tar.gz", "checksums.yaml.gz":
		default:
			continue // signatures and what later RubyGems may add
		}
		if h.Typeflag != tar.TypeReg {
			return nil, invalid("%s in the gem is not a regular file", h.Name)
		}
		if _, dup := members[h.Name]; dup {
			return nil, invalid("the gem has two %s", h.Name)
		}
		m, err := readMember(tr, h, maxMeta)
		if err != nil {
			return nil, err
		}
		members[h.Name] = m
	}
	meta, ok := members["metadata.gz"]
	if !ok {
		return nil, invalid("the gem has no metadata.gz")
	}
	data, ok := members["data.tar.gz"]
	if !ok {
		return nil, invalid("the gem has no data.tar.gz")
	}
	if sums, ok := members["checksums.yaml.gz"]; ok {
		if err := checkGemChecksums(sums.body, members); err != nil {
			return nil, err
		}
	}
	if err := checkDataTar(data.head); err != nil {
		return nil, err
	}
	yml, err := gunzip(meta.body, maxMeta)
	if err != nil {
		return nil, invalid("metadata.gz: %v", err)
	}
	return parseGemspec(yml)
}

// readMember hashes a member of a .gem; it keeps metadata.gz and
// checksums.yaml.gz, at most maxMeta bytes, and the start of data.tar.gz.
func readMember(tr io.Reader, h *tar.Header, maxMeta int64) (*gemMember, error) {
	small := h.Name != "data.tar.gz"
	if small && h.Size > maxMeta {
		return nil, fmt.Errorf("%w: rubygems: %s in the gem is larger than %d bytes", formats.ErrTooLarge, h.Name, maxMeta)
	}
	s256, s512 := sha256.New(), sha512.New()
	var keep bytes.Buffer
	w := io.MultiWriter(s256, s512, &keep)
	if !small {
		w = io.MultiWriter(s256, s512, &headWriter{buf: &keep, n: maxDataHead})
	}
	if _, err := io.Copy(w, tr); err != nil {
		return nil, invalid("reading %s of the gem: %v", h.Name, err)
	}
	m := &gemMember{sha256: hex.EncodeToString(s256.Sum(nil)), sha512: hex.EncodeToString(s512.Sum(nil))}
	if small {
		m.body = keep.Bytes()
	} else {
		m.head = keep.Bytes()
	}
	return m, nil
}

// headWriter keeps the first n bytes written to it.
type headWriter struct {
	buf *bytes.Buffer
	n   int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if rest := w.n - w.buf.Len(); rest > 0 {
		w.buf.Write(p[:min(rest, len(p))])
	}
	return len(p), nil
}

// gunzip decompresses at most limit bytes.
func gunzip(b []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > limit {
		return nil, errors.New("larger than " + strconv.FormatInt(limit, 10) + " bytes uncompressed")
	}
	return out, nil
}

// checkDataTar checks that data.tar.gz starts as a gzipped tar, from its
// first bytes.
func checkDataTar(head []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(head))
	if err != nil {
		return invalid("data.tar.gz is not gzip: %v", err)
	}
	if _, err := tar.NewReader(zr).Next(); err != nil && !errors.Is(err, io.EOF) {
		return invalid("data.tar.gz is not a tar archive: %v", err)
	}
	return nil
}

// checkGemChecksums verifies the digests checksums.yaml.gz declares.
func checkGemChecksums(gz []byte, members map[string]*gemMember) error {
	yml, err := gunzip(gz, 1<<20)
	if err != nil {
		return invalid("checksums.yaml.gz: %v", err)
	}
	var sums map[string]map[string]string
	if err := yaml.Unmarshal(yml, &sums); err != nil {
		return invalid("checksums.yaml.gz: %v", err)
	}
	for algo, files := range sums {
		for file, want := range files {
			m, ok := members[file]
			if !ok {
				continue
			}
			var got string
			switch algo {
			case "SHA256":
				got = m.sha256
			case "SHA512":
				got = m.sha512
			default:
				continue
			}
			if !strings.EqualFold(got, want) {
				return invalid("the %s of %s does not match checksums.yaml.gz", algo, file)
			}
		}
	}
	return nil
}

// parseGemspec reads the YAML form of a Gem::Specification. It is long
// because it is one case per field of the specification it keeps.
func parseGemspec(yml []byte) (*gemspec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(yml, &doc); err != nil {
		return nil, invalid("metadata.gz is not YAML: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, invalid("metadata.gz is not a gem specification")
	}
	s := &gemspec{Platform: "ruby", SpecificationVersion: 4}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i].Value, deref(root.Content[i+1])
		var err error
		switch k {
		case "name":
			s.Name = scalar(v)
		case "version":
			s.Version = versionOf(v)
		case "platform":
			if p := scalar(v); p != "" {
				s.Platform = p
			}
		case "rubygems_version":
			s.RubygemsVersion = scalar(v)
		case "specification_version":
			if n, err := strconv.Atoi(scalar(v)); err == nil && n >= 0 && n < 1000 {
				s.SpecificationVersion = n
			}
		case "date":
			s.Date = parseDate(scalar(v))
		case "summary":
			s.Summary = optString(v)
		case "description":
			s.Description = optString(v)
		case "homepage":
			s.Homepage = optString(v)
		case "email":
			if v.Kind == yaml.SequenceNode {
				s.Email = strings0(v)
			} else {
				s.Email = optString(v)
			}
		case "authors":
			s.Authors = strings0(v)
		case "licenses":
			s.Licenses = strings0(v)
		case "metadata":
			if v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					s.Metadata = append(s.Metadata, [2]string{scalar(v.Content[j]), scalar(v.Content[j+1])})
				}
			}
		case "required_ruby_version":
			s.RequiredRuby, err = requirementOf(v)
		case "required_rubygems_version":
			s.RequiredRubygems, err = requirementOf(v)
		case "dependencies":
			s.Dependencies, err = dependenciesOf(v)
		}
		if err != nil {
			return nil, invalid("metadata.gz: %s: %v", k, err)
		}
	}
	if !validName(s.Name) {
		return nil, invalid("the gemspec's name %q is not a gem name", s.Name)
	}
	if !validVersion(s.Version) {
		return nil, invalid("gem %s: version %q is not a canonical gem version", s.Name, s.Version)
	}
	if s.Platform != "ruby" && !validPlatform(s.Platform) {
		return nil, invalid("gem %s: platform %q is not valid", s.Name, s.Platform)
	}
	if s.Date.IsZero() {
		s.Date = time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC) // RubyGems' default for reproducible builds
	}
	if len(s.RequiredRuby) == 0 {
		s.RequiredRuby = []requirement{{">=", "0"}}
	}
	if len(s.RequiredRubygems) == 0 {
		s.RequiredRubygems = []requirement{{">=", "0"}}
	}
	return s, nil
}

// deref follows YAML aliases: older RubyGems wrote a dependency's
// version_requirements as an alias (*id001) of its requirement.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return ""
	}
	if n.Tag == "!binary" || n.Tag == "!!binary" {
		// Older RubyGems wrote strings that were not valid UTF-8 so.
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), "")); err == nil {
			return string(b)
		}
	}
	return n.Value
}

func optString(n *yaml.Node) any {
	n = deref(n)
	if isNull(n) || n.Kind != yaml.ScalarNode {
		return nil
	}
	return scalar(n)
}

func strings0(n *yaml.Node) []string {
	n = deref(n)
	out := []string{}
	if n == nil || n.Kind != yaml.SequenceNode {
		if s := scalar(n); s != "" {
			out = append(out, s)
		}
		return out
	}
	for _, c := range n.Content {
		out = append(out, scalar(c))
	}
	return out
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// versionOf reads a !ruby/object:Gem::Version (or a bare scalar).
func versionOf(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return scalar(mapGet(n, "version"))
}

// requirementOf reads a !ruby/object:Gem::Requirement.
func requirementOf(n *yaml.Node) ([]requirement, error) {
	if isNull(n) {
		return nil, nil
	}
	list := deref(mapGet(n, "requirements"))
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, errors.New("not a requirement")
	}
	var out []requirement
	for _, pair := range list.Content {
		pair = deref(pair)
		if pair.Kind != yaml.SequenceNode || len(pair.Content) != 2 {
			return nil, errors.New("a requirement is not an (operator, version) pair")
		}
		op, ver := scalar(pair.Content[0]), versionOf(pair.Content[1])
		switch op {
		case "=", "!=", ">", "<", ">=", "<=", "~>":
		default:
			return nil, errors.New("unknown operator " + strconv.Quote(op))
		}
		if ver == "" || strings.ContainsAny(ver, " ,&|:\n") {
			return nil, errors.New("bad version " + strconv.Quote(ver))
		}
		out = append(out, requirement{op, ver})
	}
	return out, nil
}

func dependenciesOf(n *yaml.Node) ([]dependency, error) {
	if isNull(n) {
		return nil, nil
	}
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New("not a list")
	}
	var out []dependency
	for _, d := range n.Content {
		dep := dependency{name: scalar(mapGet(d, "name")), typ: strings.TrimPrefix(scalar(mapGet(d, "type")), ":")}
		if !validName(dep.name) {
			return nil, errors.New("bad dependency name " + strconv.Quote(dep.name))
		}
		if dep.typ == "" {
			dep.typ = "runtime"
		}
		if dep.typ != "runtime" && dep.typ != "development" {
			return nil, errors.New("bad dependency type " + strconv.Quote(dep.typ))
		}
		req := mapGet(d, "requirement")
		if isNull(req) {
			req = mapGet(d, "version_requirements")
		}
		reqs, err := requirementOf(req)
		if err != nil {
			return nil, err
		}
		if len(reqs) == 0 {
			reqs = []requirement{{">=", "0"}}
		}
		dep.reqs = reqs
		dep.prerelease = scalar(mapGet(d, "prerelease")) == "true"
		out = append(out, dep)
	}
	return out, nil
}

// parseDate keeps the day, as Gem::Specification#date= does.
func parseDate(s string) time.Time {
	if len(s) < 10 {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// isDefault reports whether reqs is ">= 0", the requirement of no requirement.
func isDefault(reqs []requirement) bool {
	return len(reqs) == 0 || (len(reqs) == 1 && reqs[0].op == ">=" && compareVersions(reqs[0].version, "0") == 0)
}

func joinReqs(reqs []requirement) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.op + " " + r.version
	}
	return strings.Join(parts, "&")
}

// infoLine is the gem's line of the compact index info file:
// "version[-platform] dep:req&req,...|checksum:sha256[,ruby:req][,rubygems:req]".
func (s *gemspec) infoLine(sha256hex string) string {
	var b strings.Builder
	b.WriteString(s.key())
	b.WriteByte(' ')
	first := true
	for _, d := range s.Dependencies {
		if d.typ != "runtime" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(d.name + ":" + joinReqs(d.reqs))
	}
	b.WriteString("|checksum:" + sha256hex)
	if !isDefault(s.RequiredRuby) {
		b.WriteString(",ruby:" + joinReqs(s.RequiredRuby))
	}
	if !isDefault(s.RequiredRubygems) {
		b.WriteString(",rubygems:" + joinReqs(s.RequiredRubygems))
	}
	return b.String()
}

// marshalValue is the Gem::Specification as Marshal.dump writes it: a
// user-dumped object whose data is itself a Marshal stream of the array
// Gem::Specification#_dump builds.
func (s *gemspec) marshalValue() (ruserdump, error) {
	deps := make([]any, 0, len(s.Dependencies))
	for _, d := range s.Dependencies {
		deps = append(deps, robject{
			class: "Gem::Dependency",
			ivars: []string{"@name", "@requirement", "@type", "@prerelease", "@version_requirements"},
			vals:  []any{d.name, gemRequirement(d.reqs), rsym(d.typ), d.prerelease, gemRequirement(d.reqs)},
		})
	}
	// Ruby's spec holds one "ruby" String in both platform fields.
	var origPlatform, newPlatform any = rlabel{"platform", s.Platform}, rref("platform")
	if s.Platform != "ruby" {
		origPlatform = s.Platform
		p := parsePlatform(s.Platform)
		newPlatform = robject{class: "Gem::Platform", ivars: []string{"@cpu", "@os", "@version"}, vals: []any{optStr(p.cpu), optStr(p.os), optStr(p.version)}}
	}
	meta := &rhash{}
	for _, kv := range s.Metadata {
		meta.set(kv[0], kv[1])
	}
	var email any = s.Email
	if list, ok := s.Email.([]string); ok {
		email = list
	}
	authors, licenses := s.Authors, s.Licenses
	if authors == nil {
		authors = []string{}
	}
	if licenses == nil {
		licenses = []string{}
	}
	inner, err := marshal([]any{
		s.RubygemsVersion,
		s.SpecificationVersion,
		s.Name,
		gemVersion(s.Version),
		rubyTime(s.Date),
		s.Summary,
		gemRequirement(s.RequiredRuby),
		gemRequirement(s.RequiredRubygems),
		origPlatform,
		deps,
		"", // rubyforge_project
		email,
		authors,
		s.Description,
		s.Homepage,
		true, // has_rdoc
		newPlatform,
		licenses,
		meta,
	})
	if err != nil {
		return ruserdump{}, err
	}
	return ruserdump{class: "Gem::Specification", data: inner}, nil
}

func optStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// quickSpec is the /quick/Marshal.4.8/{full}.gemspec.rz file: the
// zlib-deflated Marshal dump of the specification.
func (s *gemspec) quickSpec() ([]byte, error) {
	v, err := s.marshalValue()
	if err != nil {
		return nil, err
	}
	raw, err := marshal(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
