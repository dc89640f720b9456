package npm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Bounds on what is read from an upstream packument (the engine already
// bounds the document's size).
const (
	maxVersions  = 100_000
	maxTags      = 1_000
	maxReadme    = 1 << 20 // longer readmes are cut (the public registry keeps 64 KiB)
	maxExtraItem = 4 << 20 // any other package-level field larger than this is dropped
)

// extraFields are the package-level fields kept for re-rendering, in the
// order they are written.
var extraFields = []string{
	"description", "readme", "readmeFilename", "homepage", "repository", "bugs",
	"license", "keywords", "author", "contributors", "maintainers",
}

// FetchMetadata implements formats.Format: it reads the full packument of p
// from the external connection (the abbreviated one lacks time and readme)
// and returns its versions with their tarballs and declared digests, the
// dist-tags and the package-level fields. Errors from the Getter pass
// through (formats.ErrNotFound when the registry has no such package); a
// document that is not a packument of p is an upstream fault
// (upstream.ErrUnavailable).
func (f *Format) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	doc, err := g.Get(ctx, escapedName(p), "application/json")
	if err != nil {
		return nil, err
	}
	md, err := parsePackument(p, doc.Body)
	if err != nil {
		return nil, fmt.Errorf("npm: packument of %s from %s: %w: %w", displayName(p), doc.URL, upstream.ErrUnavailable, err)
	}
	return md, nil
}

// parsePackument reads a full packument into the normalized model.
func parsePackument(p formats.Package, body []byte) (*formats.Metadata, error) {
	if !json.Valid(body) {
		return nil, fmt.Errorf("not valid JSON")
	}
	top, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	if raw := top.get(body, "name"); raw != nil {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil || (name != "" && name != displayName(p)) {
			return nil, fmt.Errorf("the document names another package (%.64q)", name)
		}
	}
	md := &formats.Metadata{Versions: map[string]*formats.Version{}, Tags: map[string]string{}}

	var times map[string]string
	if raw := top.get(body, "time"); raw != nil {
		_ = json.Unmarshal(raw, &times) // a malformed time object only loses dates
	}
	if raw := top.get(body, "dist-tags"); raw != nil {
		var tags map[string]string
		if err := json.Unmarshal(raw, &tags); err == nil && len(tags) <= maxTags {
			for t, v := range tags {
				if checkVersion(v) == nil && len(t) <= maxTagLen {
					md.Tags[t] = v
				}
			}
		}
	}
	if raw := top.get(body, "versions"); raw != nil {
		vo, err := parseObject(raw)
		if err != nil {
			return nil, fmt.Errorf("versions: %w", err)
		}
		if len(vo.members) > maxVersions {
			return nil, fmt.Errorf("more than %d versions", maxVersions)
		}
		for _, m := range vo.members {
			if checkVersion(m.key) != nil {
				continue // not a version npm could install
			}
			v, err := parseVersion(p, m.key, raw[m.start:m.end])
			if err != nil {
				continue // one broken version object does not hide the others
			}
			if t, err := time.Parse(time.RFC3339Nano, times[m.key]); err == nil {
				v.Published = t.UTC()
			}
			md.Versions[m.key] = v
		}
	}
	md.Extra = buildExtra([]extraSource{{body, top}}, times)
	return md, nil
}

// versionDoc holds the members of a version object the model needs.
type versionDoc struct {
	Dist struct {
		Tarball   string `json:"tarball"`
		Integrity string `json:"integrity"`
		Shasum    string `json:"shasum"`
	} `json:"dist"`
}

// parseVersion builds the model of one version object: Meta is the object
// itself, the one asset is its tarball with the digests dist declares.
func parseVersion(p formats.Package, version string, raw []byte) (*formats.Version, error) {
	var d versionDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	a := formats.AssetRef{Name: tarballName(p, version), URL: d.Dist.Tarball}
	if a.URL == "" {
		// The conventional layout, relative to the connection URL.
		a.URL = escapedName(p) + "/-/" + tarballName(p, version)
	}
	a.Digests = declaredDigests(d.Dist.Integrity, d.Dist.Shasum)
	return &formats.Version{
		Version: version,
		Meta:    bytes.Clone(raw),
		Assets:  []formats.AssetRef{a},
	}, nil
}

// declaredDigests reads dist.integrity (SRI, one or more "alg-base64"
// entries) and dist.shasum (hex SHA-1) into hex digests. Entries that do not
// decode to the right length are ignored; shasum wins over an SRI sha1.
func declaredDigests(integrity, shasum string) formats.Digests {
	var d formats.Digests
	for _, e := range strings.Fields(integrity) {
		alg, val, ok := strings.Cut(e, "-")
		if !ok {
			continue
		}
		val, _, _ = strings.Cut(val, "?") // SRI options
		sum, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			continue
		}
		switch {
		case alg == "sha512" && len(sum) == 64 && d.SHA512 == "":
			d.SHA512 = hex.EncodeToString(sum)
		case alg == "sha1" && len(sum) == 20 && d.SHA1 == "":
			d.SHA1 = hex.EncodeToString(sum)
		}
	}
	if s := strings.ToLower(strings.TrimSpace(shasum)); len(s) == 40 {
		if _, err := hex.DecodeString(s); err == nil {
			d.SHA1 = s
		}
	}
	return d
}

// sriSHA512 is the SRI string of a hex sha512.
func sriSHA512(hexSum string) string {
	b, _ := hex.DecodeString(hexSum)
	return "sha512-" + base64.StdEncoding.EncodeToString(b)
}

// extraSource is an object whose package-level fields feed Extra; earlier
// sources win.
type extraSource struct {
	b []byte
	o *object
}

// buildExtra writes the package-level fields found in the sources, plus
// time.created and time.modified, as one JSON object; nil when empty.
func buildExtra(srcs []extraSource, times map[string]string) json.RawMessage {
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	add := func(k string, v []byte) {
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(quote(k))
		buf.WriteByte(':')
		buf.Write(v)
		n++
	}
	for _, k := range extraFields {
		for _, s := range srcs {
			if s.o == nil {
				continue
			}
			v := s.o.get(s.b, k)
			if v == nil || string(v) == "null" {
				continue
			}
			if k == "readme" && len(v) > maxReadme {
				v = cutString(v, maxReadme)
			}
			if v == nil || len(v) > maxExtraItem {
				break
			}
			add(k, v)
			break
		}
	}
	t := map[string]string{}
	for _, k := range []string{"created", "modified"} {
		if v, ok := times[k]; ok {
			t[k] = v
		}
	}
	if len(t) > 0 {
		b, _ := json.Marshal(t)
		add("time", b)
	}
	if n == 0 {
		return nil
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// cutString shortens a JSON string value to about n bytes; nil when raw is
// not a string.
func cutString(raw []byte, n int) []byte {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return quote(s)
}
