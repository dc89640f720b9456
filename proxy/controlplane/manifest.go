package controlplane

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// describeVersion reads what a version's manifest says, through the format's
// Describer when it has one, else from common fields of its document.
func (h *Handler) describeVersion(ctx context.Context, r model.Repository, p formats.Package, v *resolver.VersionRecord) (*formats.Description, error) {
	for _, f := range h.Formats {
		d, ok := f.(formats.Describer)
		if !ok || f.Name() != p.Format {
			continue
		}
		ref := formats.RepoRef{Domain: r.Domain, Repository: r.Name}
		open := func(asset string) (io.ReadCloser, error) {
			return h.Resolver.Open(ctx, ref, p, v.Version.Version, asset)
		}
		return d.Describe(ctx, &v.Version, open)
	}
	var meta struct {
		Description string          `json:"description"`
		Summary     string          `json:"summary"`
		Homepage    string          `json:"homepage"`
		Readme      string          `json:"readme"`
		License     json.RawMessage `json:"license"`
		Repository  json.RawMessage `json:"repository"`
	}
	_ = json.Unmarshal(v.Meta, &meta)
	return &formats.Description{
		Summary: firstNonEmpty(meta.Summary, meta.Description), HomePage: meta.Homepage,
		SourceCodeRepository: repositoryURL(meta.Repository), Readme: meta.Readme, Licenses: licenses(meta.License),
	}, nil
}

// GetPackageVersionAsset: GET /v1/package/version/asset?…&version=&asset=&revision=
func (h *Handler) getPackageVersionAsset(c echo.Context) error {
	r, p, v, err := h.versionRecord(c)
	if err != nil {
		return err
	}
	name, err := query(c, "asset")
	if err != nil {
		return err
	}
	if want := c.QueryParam("revision"); want != "" && want != v.Revision {
		return &Error{Type: "ConflictException", Status: http.StatusConflict, ResourceType: "package-version", ResourceID: v.Version.Version,
			Message: "revision " + want + " is not the current revision " + v.Revision}
	}
	if v.Asset(name) == nil {
		return notFound("asset", name, "asset %s is not part of version %s", name, v.Version.Version)
	}
	if !v.Status.Downloadable() {
		return notFound("asset", name, "version %s is %s: its assets cannot be read", v.Version.Version, v.Status)
	}
	ctx := c.Request().Context()
	content, err := h.Resolver.Open(ctx, formats.RepoRef{Domain: r.Domain, Repository: r.Name}, p, v.Version.Version, name)
	if err != nil {
		return err
	}
	defer content.Close()
	hd := c.Response().Header()
	hd.Set("X-AssetName", name)
	hd.Set("X-PackageVersion", v.Version.Version)
	hd.Set("X-PackageVersionRevision", v.Revision)
	hd.Set("Content-Length", strconv.FormatInt(content.Sums().Size, 10))
	return c.Stream(http.StatusOK, "application/octet-stream", content)
}

// GetPackageVersionReadme: GET /v1/package/version/readme?…&version=
func (h *Handler) getPackageVersionReadme(c echo.Context) error {
	p, v, d, err := h.describedVersion(c)
	if err != nil {
		return err
	}
	out := versionFields(p, v)
	out["readme"] = d.Readme
	return c.JSON(http.StatusOK, out)
}

// ListPackageVersionDependencies: POST /v1/package/version/dependencies?…&version=
func (h *Handler) listPackageVersionDependencies(c echo.Context) error {
	p, v, d, err := h.describedVersion(c)
	if err != nil {
		return err
	}
	deps := d.Dependencies
	if deps == nil {
		deps = []formats.Dependency{}
	}
	out := versionFields(p, v)
	out["dependencies"] = deps
	return c.JSON(http.StatusOK, out)
}

// describedVersion reads the version the query names and what its
// manifest says.
func (h *Handler) describedVersion(c echo.Context) (formats.Package, *resolver.VersionRecord, *formats.Description, error) {
	r, p, v, err := h.versionRecord(c)
	if err != nil {
		return p, nil, nil, err
	}
	d, err := h.describeVersion(c.Request().Context(), r, p, v)
	return p, v, d, err
}
