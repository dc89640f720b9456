package cargo

import (
	"context"
	"encoding/json"
	"io"

	"github.com/stockpile-proxy/stockpile/formats"
)

var _ formats.Describer = (*Format)(nil)

// Describe implements formats.Describer from what the version keeps: the
// publish metadata (summary, links, license, readme) for crates published
// here, and the dependencies of the index line for every version.
func (f *Format) Describe(_ context.Context, v *formats.Version, _ func(asset string) (io.ReadCloser, error)) (*formats.Description, error) {
	d := &formats.Description{}
	m, ok := decodeMeta(v.Meta)
	if !ok {
		return d, nil
	}
	d.Summary, d.HomePage, d.SourceCodeRepository, d.Readme = m.Description, m.Homepage, m.Repository, m.Readme
	if m.License != "" {
		d.Licenses = []formats.License{{Name: m.License}}
	}
	var l struct {
		Deps []struct {
			Name    string  `json:"name"`
			Req     string  `json:"req"`
			Kind    string  `json:"kind"`
			Package *string `json:"package"`
		} `json:"deps"`
	}
	if json.Unmarshal([]byte(m.Line), &l) == nil {
		for _, dep := range l.Deps {
			name := dep.Name
			if dep.Package != nil && *dep.Package != "" {
				name = *dep.Package
			}
			kind := dep.Kind
			if kind == "" {
				kind = "normal"
			}
			d.Dependencies = append(d.Dependencies, formats.Dependency{Package: name, DependencyType: kind, VersionRequirement: dep.Req})
		}
	}
	return d, nil
}
