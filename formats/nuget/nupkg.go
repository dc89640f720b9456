package nuget

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// nuspec is what Stockpile reads of a .nuspec. Element names match in any
// XML namespace (the nuspec schema has had several).
type nuspec struct {
	Metadata struct {
		ID                       string `xml:"id"`
		Version                  string `xml:"version"`
		Title                    string `xml:"title"`
		Authors                  string `xml:"authors"`
		Owners                   string `xml:"owners"`
		Description              string `xml:"description"`
		Summary                  string `xml:"summary"`
		ReleaseNotes             string `xml:"releaseNotes"`
		Copyright                string `xml:"copyright"`
		Language                 string `xml:"language"`
		Tags                     string `xml:"tags"`
		ProjectURL               string `xml:"projectUrl"`
		IconURL                  string `xml:"iconUrl"`
		Readme                   string `xml:"readme"`
		LicenseURL               string `xml:"licenseUrl"`
		RequireLicenseAcceptance string `xml:"requireLicenseAcceptance"`
		MinClientVersion         string `xml:"minClientVersion,attr"`
		License                  struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"license"`
		Repository struct {
			Type string `xml:"type,attr"`
			URL  string `xml:"url,attr"`
		} `xml:"repository"`
		Dependencies struct {
			Groups []struct {
				TargetFramework string      `xml:"targetFramework,attr"`
				Dependencies    []nuspecDep `xml:"dependency"`
			} `xml:"group"`
			Dependencies []nuspecDep `xml:"dependency"`
		} `xml:"dependencies"`
		PackageTypes struct {
			Types []struct {
				Name string `xml:"name,attr"`
			} `xml:"packageType"`
		} `xml:"packageTypes"`
	} `xml:"metadata"`
}

type nuspecDep struct {
	ID      string `xml:"id,attr"`
	Version string `xml:"version,attr"`
}

// nupkg is a validated package: its nuspec and the parsed id and version.
type nupkg struct {
	spec       *nuspec
	nuspecName string
	id         string
	version    version
	zr         *zip.Reader
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: nuget: "+format, append([]any{formats.ErrInvalid}, args...)...)
}

// readNupkg validates a package and reads its nuspec: a zip with at most
// maxEntries entries, no entry name that climbs out of the package or is
// absolute, no two entries of one name, a declared uncompressed size within
// maxUncompressed, and exactly one .nuspec at the root, of at most
// maxNuspec bytes once inflated (the inflated bytes are counted, not the
// declared size), whose id and version are valid.
func readNupkg(r io.ReaderAt, size int64, o Options) (*nupkg, error) {
	if err := formats.CheckZipDirectory(r, size, o.MaxEntries, formats.MaxZipDirectory); err != nil {
		// A package over these bounds is refused as malformed, like one
		// whose entries are counted below.
		return nil, invalid("%s", strings.TrimPrefix(err.Error(), formats.ErrTooLarge.Error()+": "))
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, invalid("the package is not a zip archive: %v", err)
	}
	if len(zr.File) > o.MaxEntries {
		return nil, invalid("the package has %d entries, more than %d", len(zr.File), o.MaxEntries)
	}
	var spec *zip.File
	var total uint64
	seen := make(map[string]bool, len(zr.File))
	for _, zf := range zr.File {
		if err := checkEntryName(zf.Name); err != nil {
			return nil, err
		}
		key := strings.ToLower(zf.Name)
		if seen[key] {
			return nil, invalid("the package has two entries named %q", formats.Clip(zf.Name))
		}
		seen[key] = true
		total += zf.UncompressedSize64
		if total > uint64(o.MaxUncompressed) {
			return nil, fmt.Errorf("%w: nuget: the package inflates to more than %d bytes", formats.ErrTooLarge, o.MaxUncompressed)
		}
		if !strings.Contains(zf.Name, "/") && strings.HasSuffix(key, ".nuspec") {
			if spec != nil {
				return nil, invalid("the package has more than one .nuspec at its root (%s, %s)", formats.Clip(spec.Name), formats.Clip(zf.Name))
			}
			spec = zf
		}
	}
	if spec == nil {
		return nil, invalid("the package has no .nuspec at its root")
	}
	raw, err := readEntry(spec, o.MaxNuspec)
	if err != nil {
		return nil, err
	}
	ns, err := parseNuspec(raw)
	if err != nil {
		return nil, err
	}
	if err := validID(ns.Metadata.ID); err != nil {
		return nil, invalid("%v", err)
	}
	v, err := parseVersion(ns.Metadata.Version)
	if err != nil {
		return nil, invalid("%v", err)
	}
	deps := ns.Metadata.Dependencies.Dependencies
	for _, g := range ns.Metadata.Dependencies.Groups {
		deps = append(deps, g.Dependencies...)
	}
	for _, d := range deps {
		if err := validID(d.ID); err != nil {
			return nil, invalid("dependency: %v", err)
		}
	}
	return &nupkg{spec: ns, nuspecName: spec.Name, id: ns.Metadata.ID, version: v, zr: zr}, nil
}

// checkEntryName refuses names a client could extract outside its target
// directory, as written or once percent-decoded (NuGet unescapes the OPC
// part names it extracts).
func checkEntryName(name string) error {
	if unsafeName(name) {
		return invalid("the package has an entry with an unsafe name (%q)", formats.Clip(name))
	}
	if dec, err := url.PathUnescape(name); err == nil && dec != name && unsafeName(dec) {
		return invalid("the package has an entry with an unsafe name (%q)", formats.Clip(name))
	}
	return nil
}

func unsafeName(name string) bool {
	if name == "" || strings.ContainsRune(name, 0) || strings.HasPrefix(name, "/") ||
		strings.HasPrefix(name, `\`) || (len(name) >= 2 && name[1] == ':') {
		return true
	}
	for _, seg := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return true
		}
	}
	return false
}

// readEntry inflates one entry, refusing more than limit bytes whatever its
// header declares.
func readEntry(zf *zip.File, limit int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%w: nuget: %s is larger than %d bytes", formats.ErrTooLarge, formats.Clip(zf.Name), limit)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, invalid("cannot read %s: %v", formats.Clip(zf.Name), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, invalid("cannot read %s: %v", formats.Clip(zf.Name), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: nuget: %s inflates to more than %d bytes", formats.ErrTooLarge, formats.Clip(zf.Name), limit)
	}
	return b, nil
}

// parseNuspec parses a nuspec document.
func parseNuspec(raw []byte) (*nuspec, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	var ns nuspec
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q is not supported", charset)
	}
	if err := dec.Decode(&ns); err != nil {
		return nil, invalid("the .nuspec is not valid XML: %v", err)
	}
	return &ns, nil
}

// findNuspec returns the .nuspec at the root of a stored package.
func findNuspec(zr *zip.Reader) *zip.File {
	for _, zf := range zr.File {
		if !strings.Contains(zf.Name, "/") && strings.HasSuffix(strings.ToLower(zf.Name), ".nuspec") {
			return zf
		}
	}
	return nil
}

// findEntry returns the entry at a path inside the package, matched as
// NuGet does (either slash, case-insensitively).
func findEntry(zr *zip.Reader, name string) *zip.File {
	want := strings.ToLower(path.Clean(strings.ReplaceAll(name, `\`, "/")))
	for _, zf := range zr.File {
		if strings.ToLower(path.Clean(strings.ReplaceAll(zf.Name, `\`, "/"))) == want {
			return zf
		}
	}
	return nil
}

// entry builds the catalog entry of a pushed package from its nuspec.
func (n *nupkg) entry(hashB64 string, size int64) entry {
	m := &n.spec.Metadata
	e := entry{}
	e.set("id", n.id)
	e.set("version", n.version.Full())
	str := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			e.set(k, v)
		}
	}
	str("title", m.Title)
	str("authors", m.Authors)
	str("owners", m.Owners)
	str("description", m.Description)
	str("summary", m.Summary)
	str("releaseNotes", m.ReleaseNotes)
	str("copyright", m.Copyright)
	str("language", m.Language)
	str("projectUrl", m.ProjectURL)
	str("iconUrl", m.IconURL)
	str("licenseUrl", m.LicenseURL)
	str("minClientVersion", m.MinClientVersion)
	if strings.EqualFold(m.License.Type, "expression") {
		str("licenseExpression", m.License.Value)
	}
	if tags := strings.FieldsFunc(m.Tags, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '\t' || r == '\n' }); len(tags) > 0 {
		e.set("tags", tags)
	}
	e.set("requireLicenseAcceptance", strings.EqualFold(strings.TrimSpace(m.RequireLicenseAcceptance), "true"))
	var groups []depGroup
	for _, g := range m.Dependencies.Groups {
		dg := depGroup{TargetFramework: g.TargetFramework}
		for _, d := range g.Dependencies {
			dg.Dependencies = append(dg.Dependencies, dependency{ID: d.ID, Range: d.Version})
		}
		groups = append(groups, dg)
	}
	if len(m.Dependencies.Dependencies) > 0 {
		dg := depGroup{}
		for _, d := range m.Dependencies.Dependencies {
			dg.Dependencies = append(dg.Dependencies, dependency{ID: d.ID, Range: d.Version})
		}
		groups = append(groups, dg)
	}
	if len(groups) > 0 {
		e.set("dependencyGroups", groups)
	}
	var pts []map[string]string
	for _, pt := range m.PackageTypes.Types {
		if pt.Name != "" {
			pts = append(pts, map[string]string{"name": pt.Name})
		}
	}
	if len(pts) > 0 {
		e.set("packageTypes", pts)
	}
	e.set("packageHash", hashB64)
	e.set("packageHashAlgorithm", "SHA512")
	e.set("packageSize", size)
	return e
}
