package npm

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

var _ formats.Describer = (*Format)(nil)

// maxDescribedReadme bounds a readme read from a tarball.
const maxDescribedReadme = 1 << 20

// Describe implements formats.Describer for the control plane
// (DescribePackageVersion, GetPackageVersionReadme,
// ListPackageVersionDependencies) from the version object: description,
// homepage, repository, license, dependencies of the four npm kinds
// (regular, dev, peer, optional). The readme is the version object's, else
// the README at the root of the tarball, read through open.
func (f *Format) Describe(_ context.Context, v *formats.Version, open func(asset string) (io.ReadCloser, error)) (*formats.Description, error) {
	d := &formats.Description{}
	var m struct {
		Description          string          `json:"description"`
		Homepage             string          `json:"homepage"`
		Repository           json.RawMessage `json:"repository"`
		License              json.RawMessage `json:"license"`
		Licenses             json.RawMessage `json:"licenses"`
		Readme               string          `json:"readme"`
		Dependencies         map[string]any  `json:"dependencies"`
		DevDependencies      map[string]any  `json:"devDependencies"`
		PeerDependencies     map[string]any  `json:"peerDependencies"`
		OptionalDependencies map[string]any  `json:"optionalDependencies"`
	}
	if len(v.Meta) > 0 && json.Unmarshal(v.Meta, &m) != nil {
		// A field of an unexpected type: keep the plain strings.
		m.Description, m.Homepage, m.Readme = stringField(v.Meta, "description"), stringField(v.Meta, "homepage"), stringField(v.Meta, "readme")
	}
	d.Summary, d.HomePage = m.Description, m.Homepage
	d.SourceCodeRepository = repositoryURL(m.Repository)
	d.Licenses = licenses(m.License, m.Licenses)
	for _, k := range []struct {
		kind string
		deps map[string]any
	}{{"regular", m.Dependencies}, {"dev", m.DevDependencies}, {"peer", m.PeerDependencies}, {"optional", m.OptionalDependencies}} {
		names := make([]string, 0, len(k.deps))
		for n := range k.deps {
			if k.kind == "regular" && m.OptionalDependencies[n] != nil {
				continue // npm copies optional dependencies into dependencies
			}
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			req, _ := k.deps[n].(string)
			dep := formats.Dependency{Package: n, DependencyType: k.kind, VersionRequirement: req}
			if p, err := parseName(n, false); err == nil {
				dep.Namespace, dep.Package = p.Namespace, p.Name
			}
			d.Dependencies = append(d.Dependencies, dep)
		}
	}
	d.Readme = m.Readme
	if (d.Readme == "" || strings.HasPrefix(d.Readme, "ERROR: No README")) && open != nil && len(v.Assets) > 0 {
		if r, err := readmeFromTarball(open, v.Assets[0].Name); err == nil {
			d.Readme = r
		}
	}
	return d, nil
}

func stringField(obj []byte, key string) string {
	o, err := parseObject(obj)
	if err != nil {
		return ""
	}
	var s string
	if raw := o.get(obj, key); raw != nil {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// repositoryURL reads package.json's repository: a string or {type, url}.
func repositoryURL(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.URL
	}
	return ""
}

// licenses reads license (an SPDX string or a legacy {type, url}) and the
// legacy licenses array.
func licenses(license, list json.RawMessage) []formats.License {
	var out []formats.License
	var s string
	type legacy struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	var l legacy
	switch {
	case json.Unmarshal(license, &s) == nil && s != "":
		out = append(out, formats.License{Name: s})
	case json.Unmarshal(license, &l) == nil && l.Type != "":
		out = append(out, formats.License{Name: l.Type, URL: l.URL})
	}
	var ls []legacy
	if json.Unmarshal(list, &ls) == nil {
		for _, l := range ls {
			if l.Type != "" {
				out = append(out, formats.License{Name: l.Type, URL: l.URL})
			}
		}
	}
	return out
}

var errNoReadme = errors.New("no readme in the tarball")

// readmeFromTarball reads the README at the root of the package in a
// tarball (package/README.md, any case and extension).
func readmeFromTarball(open func(string) (io.ReadCloser, error), asset string) (string, error) {
	rc, err := open(asset)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return "", err
	}
	// The search is bounded in inflated bytes and entries, whatever the
	// tarball holds before its README.
	tr := tar.NewReader(io.LimitReader(zr, maxReadmeSearch))
	for n := 0; n < formats.MaxArchiveEntries; n++ {
		h, err := tr.Next()
		if err != nil {
			return "", errNoReadme
		}
		name := strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		dir, file := path.Split(name)
		if h.Typeflag != tar.TypeReg || strings.Count(dir, "/") != 1 {
			continue
		}
		base := strings.ToLower(file)
		if base == "readme" || strings.HasPrefix(base, "readme.") {
			b, err := io.ReadAll(io.LimitReader(tr, maxDescribedReadme))
			if err != nil {
				return "", err
			}
			return strings.ToValidUTF8(string(b), ""), nil
		}
	}
	return "", errNoReadme
}

// maxReadmeSearch bounds the bytes inflated while looking for a README.
const maxReadmeSearch = 256 << 20
