package cargo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// versionMeta is what formats.Version.Meta holds for a crate version. The
// index line is kept as a JSON string, not as raw JSON, so that it comes back
// byte for byte: the engine re-encodes records, and raw JSON would be
// compacted and HTML-escaped on the way ('<' in a requirement such as
// ">=1, <2" would become \u003c). The other fields are what the publish
// metadata says, for the control plane and cargo search; they are empty
// for versions read from an upstream index.
type versionMeta struct {
	Name          string `json:"name"` // the crate name as published
	Line          string `json:"line"` // the index line, without its newline
	Description   string `json:"description,omitempty"`
	License       string `json:"license,omitempty"`
	Homepage      string `json:"homepage,omitempty"`
	Documentation string `json:"documentation,omitempty"`
	Repository    string `json:"repository,omitempty"`
	Readme        string `json:"readme,omitempty"`
	Publisher     string `json:"publisher,omitempty"`
}

func (m *versionMeta) encode() json.RawMessage {
	b, _ := formats.MarshalJSON(m) // strings only: cannot fail
	return b
}

func decodeMeta(raw json.RawMessage) (*versionMeta, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var m versionMeta
	if err := json.Unmarshal(raw, &m); err != nil || m.Line == "" || m.Name == "" {
		return nil, false
	}
	return &m, true
}

// lineHead is the part of an index line Stockpile reads.
type lineHead struct {
	Name    string `json:"name"`
	Vers    string `json:"vers"`
	Cksum   string `json:"cksum"`
	Yanked  *bool  `json:"yanked"`
	Pubtime string `json:"pubtime"`
}

// indexLine is one usable line of an index file.
type indexLine struct {
	lineHead
	raw []byte
}

// parseIndex splits an index file in lines and keeps those of the crate
// whose canonical name is name that carry a name, a version and a sha256
// checksum; the first line of a version wins.
func parseIndex(body []byte, name string) []indexLine {
	var out []indexLine
	seen := map[string]bool{}
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 || !utf8.Valid(line) {
			continue
		}
		var h lineHead
		if err := json.Unmarshal(line, &h); err != nil {
			continue
		}
		if canonical(h.Name) != name || h.Vers == "" || seen[h.Vers] || !validSHA256(h.Cksum) {
			continue
		}
		seen[h.Vers] = true
		out = append(out, indexLine{lineHead: h, raw: line})
	}
	return out
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// upstreamConfig is the part of a registry's config.json Stockpile reads.
type upstreamConfig struct {
	DL string `json:"dl"`
}

// FetchMetadata implements formats.Format. The connection URL is the root of
// a sparse index: the index file of the crate is read under the spelling
// the client used first, then all '_' and all '-'; the download URLs follow
// the dl template of the upstream's config.json.
func (f *Format) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	name := canonical(p.Name)
	if !validLookupName(name) {
		return nil, fmt.Errorf("cargo: %q is not a crate name: %w", p.Name, formats.ErrNotFound)
	}
	// A spelling the upstream failed to answer for does not stop the search:
	// another spelling may be cached (stale-on-error), and only when none
	// is found is the failure, rather than absence, reported.
	var lines []indexLine
	var failure error
	for _, s := range spellings(ctx, name) {
		doc, err := g.Get(ctx, indexPath(s), "text/plain")
		if errors.Is(err, formats.ErrNotFound) {
			continue
		}
		if err != nil {
			if failure == nil {
				failure = err
			}
			continue
		}
		if lines = parseIndex(doc.Body, name); len(lines) > 0 {
			break
		}
	}
	if len(lines) == 0 {
		if failure != nil {
			return nil, failure
		}
		return nil, fmt.Errorf("cargo: the upstream index has no crate %s: %w", name, formats.ErrNotFound)
	}
	doc, err := g.Get(ctx, "config.json", "application/json")
	if err != nil {
		if errors.Is(err, formats.ErrNotFound) {
			// An index without a config.json is a broken upstream, not an
			// absent crate.
			return nil, fmt.Errorf("cargo: the upstream index has no config.json: %w", errors.Join(err, upstream.ErrUnavailable))
		}
		return nil, err
	}
	var cfg upstreamConfig
	if err := json.Unmarshal(doc.Body, &cfg); err != nil || cfg.DL == "" {
		return nil, fmt.Errorf("cargo: the upstream config.json has no dl template: %w", upstream.ErrUnavailable)
	}
	md := &formats.Metadata{Versions: make(map[string]*formats.Version, len(lines))}
	for _, l := range lines {
		status := formats.StatusPublished
		if l.Yanked != nil && *l.Yanked {
			status = formats.StatusUnlisted
		}
		m := versionMeta{Name: l.Name, Line: string(l.raw)}
		v := &formats.Version{
			Version: l.Vers,
			Status:  status,
			Meta:    m.encode(),
			Assets: []formats.AssetRef{{
				Name:    crateFile(l.Name, l.Vers),
				URL:     downloadURL(cfg.DL, l.Name, l.Vers, strings.ToLower(l.Cksum)),
				Digests: formats.Digests{SHA256: strings.ToLower(l.Cksum)},
			}},
		}
		if t, err := time.Parse(time.RFC3339, l.Pubtime); err == nil {
			v.Published = t.UTC()
		}
		md.Versions[l.Vers] = v
	}
	return md, nil
}

// renderIndex builds the index file served at the lower-cased spelling
// lower: one line per version of that spelling that clients may see, in
// SemVer order, each as it was published or read upstream except for the
// yanked flag, which follows the version's status. A version the
// release-age cooldown holds is a yanked line: Cargo never selects a
// yanked version for a requirement, but a Cargo.lock that names it, or
// `cargo update --precise`, still takes it (The Cargo Book, "cargo yank"
// and "cargo update"); its download then succeeds in hide mode and, in
// deny mode, fails with the 403's body, which cargo prints.
func renderIndex(v *formats.View, lower string) *formats.Rendered {
	versions := make([]string, 0, len(v.Versions)+len(v.Held))
	yanked := map[string]*formats.ViewVersion{}
	for ver := range v.Versions {
		versions = append(versions, ver)
	}
	for ver, h := range v.Held {
		if _, dup := v.Versions[ver]; !dup && h.Status == formats.StatusPublished {
			versions = append(versions, ver)
			yanked[ver] = h.ViewVersion
		}
	}
	slices.SortFunc(versions, compareVersions)
	var buf bytes.Buffer
	for _, ver := range versions {
		vv, held := yanked[ver]
		if !held {
			vv = v.Versions[ver]
		}
		if vv.Status != formats.StatusPublished && vv.Status != formats.StatusUnlisted {
			continue
		}
		m, ok := decodeMeta(vv.Meta)
		if !ok || strings.ToLower(m.Name) != lower {
			continue
		}
		line, err := setYanked([]byte(m.Line), held || vv.Status == formats.StatusUnlisted)
		if err != nil {
			continue
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return &formats.Rendered{Body: buf.Bytes(), ContentType: "text/plain; charset=utf-8"}
}

// setYanked returns line with its top-level "yanked" member set to yanked,
// changing nothing else: the value is replaced in place, or the member
// added at the end when it is missing and yanked is true.
func setYanked(line []byte, yanked bool) ([]byte, error) {
	want := "false"
	if yanked {
		want = "true"
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("index line is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if key != "yanked" {
			continue
		}
		end := int(dec.InputOffset())
		start := end - len(raw)
		if string(raw) == want {
			return line, nil
		}
		if !yanked && string(raw) == "null" {
			return line, nil // null reads as false
		}
		out := make([]byte, 0, len(line)+1)
		out = append(out, line[:start]...)
		out = append(out, want...)
		return append(out, line[end:]...), nil
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("index line has data after its object")
	}
	if !yanked {
		return line, nil
	}
	closing := bytes.LastIndexByte(line, '}')
	body := bytes.TrimSpace(line[1:closing])
	member := `"yanked":true`
	if len(body) > 0 {
		member = "," + member
	}
	out := make([]byte, 0, len(line)+len(member))
	out = append(out, line[:closing]...)
	out = append(out, member...)
	return append(out, line[closing:]...), nil
}
