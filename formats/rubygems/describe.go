package rubygems

import (
	"context"
	"io"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Describe implements formats.Describer for the control plane: it reads
// the gemspec of the version's .gem.
func (f *Format) Describe(ctx context.Context, v *formats.Version, open func(asset string) (io.ReadCloser, error)) (*formats.Description, error) {
	gem := v.AssetWithSuffix(".gem")
	if gem == nil {
		return nil, notFound("version %s has no .gem", v.Version)
	}
	rc, err := open(gem.Name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	spec, err := readGem(f.gemReader(rc), f.opts.MaxMetadataSize)
	if err != nil {
		return nil, err
	}
	d := &formats.Description{Licenses: []formats.License{}}
	d.Summary, _ = spec.Summary.(string)
	if d.Summary == "" {
		d.Summary, _ = spec.Description.(string)
	}
	d.HomePage, _ = spec.Homepage.(string)
	for _, l := range spec.Licenses {
		d.Licenses = append(d.Licenses, formats.License{Name: l})
	}
	for _, kv := range spec.Metadata {
		switch kv[0] {
		case "source_code_uri":
			d.SourceCodeRepository = kv[1]
		case "homepage_uri":
			if d.HomePage == "" {
				d.HomePage = kv[1]
			}
		}
	}
	for _, dep := range spec.Dependencies {
		d.Dependencies = append(d.Dependencies, formats.Dependency{
			Package: dep.name, DependencyType: dep.typ, VersionRequirement: strings.ReplaceAll(joinReqs(dep.reqs), "&", ", "),
		})
	}
	return d, nil
}
