package pypi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// upstreamAccept is what Stockpile asks an upstream simple index for: the
// JSON form when it has one (PEP 691), HTML otherwise.
const upstreamAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

// Bounds on an upstream project page (the engine bounds its size).
const (
	maxFiles     = 200_000
	maxAttrLen   = 4096
	uploadLayout = "2006-01-02T15:04:05.000000Z"
)

// FetchMetadata implements formats.Format: it reads the simple page of p from
// the external connection (a simple index URL such as
// https://pypi.org/simple/), in its JSON form when the upstream has one and
// HTML otherwise, and groups the files by version. File URLs are kept
// absolute (they may be on another host). Getter errors pass through
// (formats.ErrNotFound for an unknown project); a page that cannot be read
// is an upstream fault (upstream.ErrUnavailable).
func (f *Format) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	project := normalizeName(p.Name)
	doc, err := g.Get(ctx, pathEscape(project)+"/", upstreamAccept)
	if err != nil {
		return nil, err
	}
	files, versions, err := parsePage(doc)
	if err != nil {
		return nil, fmt.Errorf("pypi: simple page of %s from %s: %w: %w", project, redacted(doc.URL), upstream.ErrUnavailable, err)
	}
	return group(project, files, versions), nil
}

// pageFile is one file link of a simple page.
type pageFile struct {
	Filename string
	URL      string // absolute, without fragment
	Digests  formats.Digests
	Size     int64
	Meta     fileMeta
}

// parsePage reads a simple page in either representation; relative file URLs
// are resolved against the page's URL (or its <base>).
func parsePage(doc *formats.Document) ([]pageFile, []string, error) {
	base, err := url.Parse(doc.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("bad page URL: %w", err)
	}
	ct := strings.ToLower(doc.ContentType)
	body := bytes.TrimLeft(doc.Body, " \t\r\n\ufeff")
	if strings.Contains(ct, "json") || (!strings.Contains(ct, "html") && len(body) > 0 && body[0] == '{') {
		return parseJSONPage(base, doc.Body)
	}
	files, err := parseHTMLPage(base, doc.Body)
	return files, nil, err
}

// jsonPage is a PEP 691 project page.
type jsonPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name     string     `json:"name"`
	Files    []jsonFile `json:"files"`
	Versions []string   `json:"versions"`
}

type jsonFile struct {
	Filename         string            `json:"filename"`
	URL              string            `json:"url"`
	Hashes           map[string]string `json:"hashes"`
	RequiresPython   *string           `json:"requires-python"`
	CoreMetadata     json.RawMessage   `json:"core-metadata"`
	DistInfoMetadata json.RawMessage   `json:"dist-info-metadata"`
	// PyPI's misspelling of dist-info-metadata, still served (PEP 714).
	DataDistInfoMetadata json.RawMessage `json:"data-dist-info-metadata"`
	Yanked               json.RawMessage `json:"yanked"`
	Size                 *int64          `json:"size"`
	UploadTime           *string         `json:"upload-time"`
}

func parseJSONPage(base *url.URL, body []byte) ([]pageFile, []string, error) {
	var page jsonPage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, nil, fmt.Errorf("not a PEP 691 page: %w", err)
	}
	if v := page.Meta.APIVersion; v != "" && !strings.HasPrefix(v, "1.") && v != "1" {
		return nil, nil, fmt.Errorf("unsupported api-version %.20q", v)
	}
	if len(page.Files) > maxFiles {
		return nil, nil, fmt.Errorf("%d files, more than %d", len(page.Files), maxFiles)
	}
	var out []pageFile
	for _, jf := range page.Files {
		u, err := resolveURL(base, jf.URL)
		if err != nil {
			continue
		}
		pf := pageFile{Filename: jf.Filename, URL: u.String(), Digests: digests(jf.Hashes)}
		if pf.Filename == "" {
			pf.Filename = lastSegment(u)
		}
		if jf.RequiresPython != nil {
			pf.Meta.RequiresPython = formats.Truncate(*jf.RequiresPython, maxAttrLen)
		}
		cm := jf.CoreMetadata
		for _, alt := range []json.RawMessage{jf.DistInfoMetadata, jf.DataDistInfoMetadata} {
			if len(cm) == 0 || string(cm) == "null" {
				cm = alt
			}
		}
		pf.Meta.CoreMetadataUpstream, pf.Meta.CoreMetadata = jsonCoreMetadata(cm)
		pf.Meta.Yanked, pf.Meta.YankedReason = jsonYanked(jf.Yanked)
		if jf.Size != nil && *jf.Size > 0 {
			pf.Size = *jf.Size
		}
		if jf.UploadTime != nil {
			pf.Meta.UploadTime = normalizeUploadTime(*jf.UploadTime)
		}
		out = append(out, pf)
	}
	var versions []string
	for _, v := range page.Versions {
		if v = strings.TrimSpace(v); v != "" && len(v) <= maxVersionLen {
			versions = append(versions, v)
		}
	}
	return out, versions, nil
}

// jsonCoreMetadata reads a core-metadata value: true, false, or a hashes
// object.
func jsonCoreMetadata(raw json.RawMessage) (bool, string) {
	if len(raw) == 0 {
		return false, ""
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var hashes map[string]string
	if json.Unmarshal(raw, &hashes) == nil {
		return true, hexDigest(hashes["sha256"], 64)
	}
	return false, ""
}

// jsonYanked reads a yanked value: a boolean or a reason.
func jsonYanked(raw json.RawMessage) (bool, string) {
	if len(raw) == 0 {
		return false, ""
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var reason string
	if json.Unmarshal(raw, &reason) == nil {
		return true, formats.Truncate(reason, maxAttrLen)
	}
	return false, ""
}

// parseHTMLPage reads a PEP 503 page: one <a> per file, the hash in the URL
// fragment, PEP 592/658/714 data attributes.
func parseHTMLPage(base *url.URL, body []byte) ([]pageFile, error) {
	z := html.NewTokenizer(bytes.NewReader(body))
	var out []pageFile
	var cur *pageFile // inside an <a>
	var text strings.Builder
	finish := func() {
		if cur == nil {
			return
		}
		if cur.Filename == "" {
			cur.Filename = strings.TrimSpace(text.String())
		}
		if cur.Filename != "" {
			out = append(out, *cur)
		}
		cur = nil
		text.Reset()
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			finish()
			if err := z.Err(); err != io.EOF {
				return nil, fmt.Errorf("not an HTML page: %w", err)
			}
			return out, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "base":
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						if u, err := base.Parse(string(v)); err == nil {
							base = u
						}
					}
				}
			case "a":
				finish()
				if len(out) >= maxFiles {
					return nil, fmt.Errorf("more than %d files", maxFiles)
				}
				attrs := map[string]string{}
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if len(v) <= maxAttrLen {
						attrs[string(k)] = string(v)
					}
				}
				href, ok := attrs["href"]
				if !ok {
					continue
				}
				pf, ok := htmlFile(base, href, attrs)
				if !ok {
					continue
				}
				if tt == html.SelfClosingTagToken {
					cur = &pf
					finish()
					continue
				}
				cur = &pf
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "a" {
				finish()
			}
		case html.TextToken:
			if cur != nil && text.Len() < maxFilenameLen {
				text.Write(z.Text())
			}
		}
	}
}

// htmlFile reads one anchor's attributes.
func htmlFile(base *url.URL, href string, attrs map[string]string) (pageFile, bool) {
	u, err := resolveURL(base, href)
	if err != nil {
		return pageFile{}, false
	}
	pf := pageFile{}
	if name, value, ok := strings.Cut(u.Fragment, "="); ok {
		pf.Digests = digests(map[string]string{name: value})
	}
	u.Fragment, u.RawFragment = "", ""
	pf.URL = u.String()
	pf.Filename = lastSegment(u)
	pf.Meta.RequiresPython = formats.Truncate(attrs["data-requires-python"], maxAttrLen)
	if reason, ok := attrs["data-yanked"]; ok {
		pf.Meta.Yanked, pf.Meta.YankedReason = true, formats.Truncate(reason, maxAttrLen)
	}
	cm, ok := attrs["data-core-metadata"]
	if !ok {
		cm, ok = attrs["data-dist-info-metadata"]
	}
	if ok && cm != "false" {
		pf.Meta.CoreMetadataUpstream = true
		if name, value, ok := strings.Cut(cm, "="); ok && strings.EqualFold(name, "sha256") {
			pf.Meta.CoreMetadata = hexDigest(value, 64)
		}
	}
	return pf, true
}

// resolveURL resolves a file reference against the page; only http(s)
// locations are kept.
func resolveURL(base *url.URL, ref string) (*url.URL, error) {
	u, err := base.Parse(strings.TrimSpace(ref))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q", u.Scheme)
	}
	return u, nil
}

func lastSegment(u *url.URL) string {
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		return ""
	}
	return name
}

// digests keeps the hashes the engine verifies, as lower-case hex.
func digests(h map[string]string) formats.Digests {
	return formats.Digests{
		SHA256: hexDigest(h["sha256"], 64),
		SHA512: hexDigest(h["sha512"], 128),
		SHA1:   hexDigest(h["sha1"], 40),
		MD5:    hexDigest(h["md5"], 32),
	}
}

// hexDigest returns s in lower case when it is a hex digest of n digits.
func hexDigest(s string, n int) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != n {
		return ""
	}
	if _, err := hex.DecodeString(s); err != nil {
		return ""
	}
	return s
}

// normalizeUploadTime keeps an upload time in PEP 700's format.
func normalizeUploadTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return t.UTC().Format(uploadLayout)
}

// group turns a page's files into versions. Files of other projects and
// files whose names cannot be read are left out; the first of two files of
// the same name wins.
func group(project string, files []pageFile, listed []string) *formats.Metadata {
	md := &formats.Metadata{Versions: map[string]*formats.Version{}}
	metas := map[string]*versionMeta{}
	seen := map[string]bool{}
	for _, pf := range files {
		if seen[pf.Filename] {
			continue
		}
		df, err := parseFilename(pf.Filename, project)
		if err != nil || normalizeName(df.Name) != project {
			continue
		}
		seen[pf.Filename] = true
		ver := normalizeVersion(df.Version)
		v := md.Versions[ver]
		if v == nil {
			v = &formats.Version{Version: ver, Status: formats.StatusPublished}
			md.Versions[ver] = v
			metas[ver] = &versionMeta{Files: map[string]*fileMeta{}}
		}
		v.Assets = append(v.Assets, formats.AssetRef{Name: pf.Filename, URL: pf.URL, Digests: pf.Digests, Size: pf.Size})
		fm := pf.Meta
		fm.Kind, fm.PyVersion = df.Kind, df.PyVersion
		metas[ver].Files[pf.Filename] = &fm
		if t, err := time.Parse(uploadLayout, fm.UploadTime); err == nil && (v.Published.IsZero() || t.Before(v.Published)) {
			v.Published = t
		}
	}
	for ver, m := range metas {
		md.Versions[ver].Meta = m.encode()
	}
	// PEP 700: versions may be listed without files.
	for _, raw := range listed {
		ver := normalizeVersion(raw)
		if _, ok := md.Versions[ver]; !ok {
			md.Versions[ver] = &formats.Version{Version: ver, Status: formats.StatusPublished}
		}
	}
	return md
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}
