package rubygems

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// The compact index (https://guides.rubygems.org/rubygems-org-compact-index-api/).
//
// /info/{gem} has a "---" line, then one line per version and platform:
//
//	1.0.0 rack:< 4&>= 2.0|checksum:7c1d…,ruby:>= 2.7.0
//
// /versions has a "created_at: …" line, "---", then "name v1,v2,… md5" lines
// where md5 is the MD5 of the gem's info file; a later line for the same
// gem adds versions or, with a leading '-', removes them, and its MD5 wins.

// versionMeta is the format's document kept with each version: its line of
// the info file, relayed byte for byte.
type versionMeta struct {
	Line string `json:"line"`
	// Upstream is true for a line read from an external connection's
	// info file, false for a gem pushed into the domain.
	Upstream bool `json:"upstream,omitempty"`
}

// packageExtra is what FetchMetadata keeps of the upstream info file, so a
// view that is exactly the upstream's is served with the upstream's bytes
// (whose MD5 the upstream's /versions carries).
type packageExtra struct {
	Info string `json:"info"`
}

// infoEntry is one parsed line of an info file.
type infoEntry struct {
	key      string
	line     string
	checksum string
	created  time.Time
}

// parseInfo reads an info file. clean is false when a line was skipped or
// the file is not in the canonical "---\n" + lines form.
func parseInfo(body []byte) (entries []infoEntry, clean bool) {
	s := string(body)
	clean = strings.HasPrefix(s, "---\n") && strings.HasSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	start := 0
	for i, l := range lines {
		if l == "---" {
			start = i + 1
			break
		}
	}
	seen := map[string]bool{}
	for _, l := range lines[start:] {
		if l == "" {
			continue
		}
		e, ok := parseInfoLine(l)
		if !ok || seen[e.key] {
			clean = false
			continue
		}
		seen[e.key] = true
		entries = append(entries, e)
	}
	return entries, clean
}

func parseInfoLine(l string) (infoEntry, bool) {
	if strings.ContainsAny(l, "\r\x00") {
		return infoEntry{}, false
	}
	key, rest, _ := strings.Cut(l, " ")
	if !validKey(key) {
		return infoEntry{}, false
	}
	e := infoEntry{key: key, line: l}
	_, reqs, _ := strings.Cut(rest, "|")
	for _, r := range strings.Split(reqs, ",") {
		k, v, _ := strings.Cut(r, ":")
		switch k {
		case "checksum":
			v = strings.ToLower(v)
			if len(v) == 64 && isHex(v) {
				e.checksum = v
			}
		case "created_at":
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				e.created = t.UTC()
			}
		}
	}
	return e, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// FetchMetadata implements formats.Format: it reads info/{gem} of the
// connection's compact index. Every line becomes a version with two assets,
// the .gem (verified against the line's checksum) and its quick gemspec.
// Errors wrap formats.ErrNotFound when the upstream has no such gem.
func (f *Format) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	if !validName(p.Name) {
		return nil, fmt.Errorf("rubygems: %q is not a gem name: %w", p.Name, formats.ErrNotFound)
	}
	doc, err := g.Get(ctx, "info/"+p.Name, "text/plain")
	if err != nil {
		return nil, err
	}
	entries, _ := parseInfo(doc.Body)
	if len(entries) == 0 && !bytes.HasPrefix(doc.Body, []byte("---")) {
		return nil, fmt.Errorf("rubygems: %s is not a compact index info file: %w", redactURL(doc.URL), upstream.ErrUnavailable)
	}
	md := &formats.Metadata{Versions: make(map[string]*formats.Version, len(entries))}
	for _, e := range entries {
		meta, _ := json.Marshal(versionMeta{Line: e.line, Upstream: true})
		md.Versions[e.key] = &formats.Version{
			Version:   e.key,
			Status:    formats.StatusPublished,
			Meta:      meta,
			Published: e.created,
			Assets: []formats.AssetRef{
				{Name: gemFile(p.Name, e.key), URL: "gems/" + gemFile(p.Name, e.key), Digests: formats.Digests{SHA256: e.checksum}},
				{Name: specFile(p.Name, e.key), URL: "quick/Marshal.4.8/" + specFile(p.Name, e.key)},
			},
		}
	}
	md.Extra, _ = json.Marshal(packageExtra{Info: string(doc.Body)})
	return md, nil
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

// metaOf returns the format document of a version.
func metaOf(v *formats.ViewVersion) versionMeta {
	var m versionMeta
	if json.Unmarshal(v.Meta, &m) != nil || m.Line == "" {
		m.Line = v.Version.Version + " |"
	}
	return m
}

// renderInfo builds /info/{gem} from the view: the listed versions, in the
// upstream file's order for the versions it has, then the others by
// publication time. When the listed versions are exactly the upstream's,
// the upstream's bytes are served. A version retained from the upstream
// that the upstream's current info file no longer has was yanked there:
// it leaves the index, as it did upstream, and stays downloadable.
func renderInfo(v *formats.View) []byte {
	type item struct {
		key, line string
		published time.Time
	}
	var extra packageExtra
	_ = json.Unmarshal(v.Extra, &extra)
	raw, clean := parseInfo([]byte(extra.Info))
	pos := make(map[string]int, len(raw))
	for i, e := range raw {
		pos[e.key] = i
	}
	var listed []item
	for key, vv := range v.Versions {
		if !vv.Status.Listed() {
			continue
		}
		m := metaOf(vv)
		if _, ok := pos[key]; !ok && m.Upstream && extra.Info != "" {
			continue // yanked upstream
		}
		listed = append(listed, item{key, m.Line, vv.Published})
	}
	if clean && len(raw) == len(listed) {
		same := true
		for _, it := range listed {
			i, ok := pos[it.key]
			if !ok || raw[i].line != it.line {
				same = false
				break
			}
		}
		if same {
			return []byte(extra.Info)
		}
	}
	sort.Slice(listed, func(i, j int) bool {
		a, b := listed[i], listed[j]
		pa, oka := pos[a.key]
		pb, okb := pos[b.key]
		switch {
		case oka && okb:
			return pa < pb
		case oka != okb:
			return oka
		case !a.published.Equal(b.published):
			return a.published.Before(b.published)
		}
		return compareKeys(a.key, b.key) < 0
	})
	var b bytes.Buffer
	b.WriteString("---\n")
	for _, it := range listed {
		b.WriteString(it.line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// infoKeys returns the versions an info file lists, in order.
func infoKeys(body []byte) []string {
	entries, _ := parseInfo(body)
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	return keys
}

// localGem is a gem a repository or its upstream repositories hold, as the
// repository's own /info/{gem} shows it.
type localGem struct {
	name string
	md5  string
	keys []string
}

// versionsHeader starts a /versions file with no upstream behind it. The
// file is rebuilt from the repositories' state, not appended to, so its
// epoch is fixed: clients do not read it.
const versionsHeader = "created_at: 1970-01-01T00:00:00Z\n---\n"

// upstreamGem is what an upstream /versions file says of one gem.
type upstreamGem struct {
	md5  string
	seen bool
}

// splitHeader splits a /versions file after its "---" line.
func splitHeader(body []byte) (header, rest []byte) {
	if bytes.HasPrefix(body, []byte("---\n")) {
		return body[:4], body[4:]
	}
	if i := bytes.Index(body, []byte("\n---\n")); i >= 0 {
		return body[:i+5], body[i+5:]
	}
	return nil, body
}

// forEachLine calls fn with each line of the body part of a compact index
// file (after "---"), with its end of line.
func forEachLine(body []byte, fn func(line, full []byte)) {
	_, rest := splitHeader(body)
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		var line, full []byte
		if i < 0 {
			line, full, rest = rest, rest, nil
		} else {
			line, full, rest = rest[:i], rest[:i+1], rest[i+1:]
		}
		if len(line) > 0 {
			fn(line, full)
		}
	}
}

// applyVersions applies one /versions line's version list to keys.
func applyVersions(keys []string, list []byte) []string {
	for _, v := range bytes.Split(list, []byte(",")) {
		if len(v) == 0 {
			continue
		}
		if v[0] == '-' {
			drop := string(v[1:])
			for i, k := range keys {
				if k == drop {
					keys = append(keys[:i], keys[i+1:]...)
					break
				}
			}
			continue
		}
		keys = append(keys, string(v))
	}
	return keys
}

// splitVersionsLine splits "name versions [md5]".
func splitVersionsLine(line []byte) (name, list, md5 []byte) {
	fields := bytes.Fields(line)
	switch len(fields) {
	case 0:
		return nil, nil, nil
	case 1:
		return fields[0], nil, nil
	case 2:
		return fields[0], fields[1], nil
	}
	return fields[0], fields[1], fields[2]
}

// mergeVersions builds a repository's /versions from the upstream's file
// and the repository's own info files of the gems held locally (sorted by
// name). A local gem whose info file is the upstream's (same MD5 as the
// upstream's last line for it) keeps the upstream's lines. Every other
// local gem gets one line, "name all-versions md5", placed right after the
// header, and the upstream's lines for it are left out: so the upstream's
// later appends stay appends here, and a client holding the file fetches
// only the new bytes (Range: bytes=N-). Without an upstream file, the
// header and one line per local gem.
func mergeVersions(up []byte, local []localGem) []byte {
	line := func(b *bytes.Buffer, g localGem) {
		if len(g.keys) == 0 {
			return // no version to offer: absent, as is its info
		}
		b.WriteString(g.name + " " + strings.Join(g.keys, ",") + " " + g.md5 + "\n")
	}
	if up == nil {
		var b bytes.Buffer
		b.WriteString(versionsHeader)
		for _, g := range local {
			line(&b, g)
		}
		return b.Bytes()
	}
	ups := make(map[string]*upstreamGem, len(local))
	for _, g := range local {
		ups[g.name] = &upstreamGem{}
	}
	forEachLine(up, func(l, _ []byte) {
		name, _, md5 := splitVersionsLine(l)
		if u := ups[string(name)]; u != nil {
			u.seen, u.md5 = true, string(md5)
		}
	})
	ours := map[string]bool{}
	header, _ := splitHeader(up)
	var b bytes.Buffer
	b.Grow(len(up) + 64*len(local))
	b.Write(header)
	for _, g := range local {
		if u := ups[g.name]; u.seen && u.md5 == g.md5 {
			continue
		}
		ours[g.name] = true
		line(&b, g)
	}
	forEachLine(up, func(l, full []byte) {
		name, _, _ := splitVersionsLine(l)
		if ours[string(name)] {
			return
		}
		b.Write(full)
		if full[len(full)-1] != '\n' {
			b.WriteByte('\n')
		}
	})
	return b.Bytes()
}

// mergeNames builds /names: every name of the upstream's file and the local
// gems that list a version, sorted.
func mergeNames(up []byte, local []localGem) []byte {
	set := map[string]bool{}
	if up != nil {
		forEachLine(up, func(line, _ []byte) {
			if n := string(bytes.TrimSpace(line)); n != "" {
				set[n] = true
			}
		})
	}
	for _, g := range local {
		if len(g.keys) > 0 {
			set[g.name] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.Grow(4 + len(names)*12)
	b.WriteString("---\n")
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// versionsIndex reads a /versions file into every gem's versions, for the
// legacy spec indexes.
func versionsIndex(body []byte) map[string][]string {
	out := map[string][]string{}
	forEachLine(body, func(line, _ []byte) {
		name, list, _ := splitVersionsLine(line)
		if name == nil || !validName(string(name)) {
			return
		}
		out[string(name)] = applyVersions(out[string(name)], list)
	})
	return out
}
