package nuget

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Describe implements formats.Describer for the control plane: summary,
// project URL, licenses and dependencies come from the catalog entry kept
// with the version; the source repository and the readme from the .nuspec
// inside the package, when the package can be read.
func (f *Format) Describe(ctx context.Context, v *formats.Version, open func(asset string) (io.ReadCloser, error)) (*formats.Description, error) {
	var lowerID string
	asset := v.AssetWithSuffix(".nupkg")
	if asset != nil {
		lowerID = strings.TrimSuffix(strings.TrimSuffix(asset.Name, ".nupkg"), "."+v.Version)
	}
	e := entryOf(v.Meta, lowerID, v.Version)
	d := &formats.Description{
		Summary:  firstNonEmpty(e.str("summary"), e.str("description")),
		HomePage: e.str("projectUrl"),
	}
	if lic := e.str("licenseExpression"); lic != "" {
		d.Licenses = append(d.Licenses, formats.License{Name: lic})
	} else if u := e.str("licenseUrl"); u != "" {
		d.Licenses = append(d.Licenses, formats.License{URL: u})
	}
	seen := map[string]bool{}
	for _, g := range e.depGroups() {
		for _, dep := range g.Dependencies {
			k := strings.ToLower(dep.ID) + "\x00" + dep.Range
			if seen[k] {
				continue
			}
			seen[k] = true
			d.Dependencies = append(d.Dependencies, formats.Dependency{Package: strings.ToLower(dep.ID), VersionRequirement: dep.Range})
		}
	}
	if asset == nil || open == nil {
		return d, nil
	}
	zr, closer, err := f.openZip(open, asset.Name)
	if err != nil {
		return d, nil // the description from the entry is still right
	}
	defer closer.Close()
	zf := findNuspec(zr)
	if zf == nil {
		return d, nil
	}
	raw, err := readEntry(zf, f.opts.MaxNuspec)
	if err != nil {
		return d, nil
	}
	ns, err := parseNuspec(raw)
	if err != nil {
		return d, nil
	}
	d.SourceCodeRepository = ns.Metadata.Repository.URL
	if t := strings.TrimSpace(ns.Metadata.License.Value); t != "" && strings.EqualFold(ns.Metadata.License.Type, "file") && len(d.Licenses) == 0 {
		d.Licenses = append(d.Licenses, formats.License{Name: t})
	}
	if name := strings.TrimSpace(ns.Metadata.Readme); name != "" {
		if rf := findEntry(zr, name); rf != nil {
			if b, err := readEntry(rf, f.opts.MaxNuspec); err == nil {
				d.Readme = string(b)
			}
		}
	}
	return d, nil
}

// openZip opens a stored package as a zip archive.
func (f *Format) openZip(open func(string) (io.ReadCloser, error), name string) (*zip.Reader, io.Closer, error) {
	rc, err := open(name)
	if err != nil {
		return nil, nil, err
	}
	if c, ok := rc.(formats.Content); ok {
		if err := formats.CheckZipDirectory(c, c.Sums().Size, f.opts.MaxEntries, formats.MaxZipDirectory); err != nil {
			rc.Close()
			return nil, nil, err
		}
		zr, err := zip.NewReader(c, c.Sums().Size)
		if err != nil {
			rc.Close()
			return nil, nil, err
		}
		return zr, rc, nil
	}
	b, err := io.ReadAll(io.LimitReader(rc, DefaultMaxReadPackage+1))
	rc.Close()
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > DefaultMaxReadPackage {
		return nil, nil, fmt.Errorf("nuget: %s is larger than %d bytes", name, DefaultMaxReadPackage)
	}
	if err := formats.CheckZipDirectory(bytes.NewReader(b), int64(len(b)), f.opts.MaxEntries, formats.MaxZipDirectory); err != nil {
		return nil, nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	return zr, io.NopCloser(nil), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
