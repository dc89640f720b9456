package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

type restrictionsJSON struct {
	Publish  string `json:"publish"`
	Upstream string `json:"upstream"`
}

type originConfigJSON struct {
	Restrictions restrictionsJSON `json:"restrictions"`
}

// originOf shows a package's origin controls; a package whose first version
// has not arrived yet restricts nothing.
func originOf(rec *resolver.PackageRecord) originConfigJSON {
	r := restrictionsJSON{Publish: rec.Origin.Publish, Upstream: rec.Origin.Upstream}
	if r.Publish == "" {
		r.Publish = resolver.Allow
	}
	if r.Upstream == "" {
		r.Upstream = resolver.Allow
	}
	return originConfigJSON{Restrictions: r}
}

type originJSON struct {
	DomainEntryPoint map[string]string `json:"domainEntryPoint"`
	OriginType       string            `json:"originType"`
}

func origin(o resolver.VersionOrigin) originJSON {
	out := originJSON{DomainEntryPoint: map[string]string{}, OriginType: o.Type}
	if o.Connection != "" {
		out.DomainEntryPoint["externalConnectionName"] = o.Connection
	} else if o.Repository != "" {
		out.DomainEntryPoint["repositoryName"] = o.Repository
	}
	if out.OriginType == "" {
		out.OriginType = "UNKNOWN"
	}
	return out
}

// packageParams reads domain, repository, format, namespace and package.
func (h *Handler) packageParams(c echo.Context, needPackage bool) (model.Repository, formats.Package, error) {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return model.Repository{}, formats.Package{}, err
	}
	r, err := h.Registry.Repository(domain, repo)
	if err != nil {
		return model.Repository{}, formats.Package{}, err
	}
	p := h.normalize(formats.Package{Format: c.QueryParam("format"), Namespace: c.QueryParam("namespace"), Name: c.QueryParam("package")})
	if needPackage {
		if p.Format == "" {
			return r, p, validation("the format parameter is required")
		}
		if p.Name == "" {
			return r, p, validation("the package parameter is required")
		}
	}
	if p.Format != "" && !validFormat(p.Format) {
		return r, p, validation("format %q is not one of npm, pypi, maven, nuget, generic, ruby, swift, cargo", p.Format)
	}
	if needPackage && (p.Format == "maven" || p.Format == "generic" || p.Format == "swift") && p.Namespace == "" {
		return r, p, validation("the namespace parameter is required for format %s", p.Format)
	}
	if p.Name != "" {
		if err := h.checkPackage(r.Domain, p); err != nil {
			return r, p, err
		}
	}
	return r, p, nil
}

// packageRecords reads a package's record and its versions' records; a
// package of which the repository holds neither is not found.
func (h *Handler) packageRecords(ctx context.Context, r model.Repository, p formats.Package) (*resolver.PackageRecord, []*resolver.VersionRecord, error) {
	rec, err := h.Resolver.PackageRecord(ctx, r.Domain, r.ID, p)
	if err != nil {
		return nil, nil, err
	}
	vers, err := h.Resolver.VersionRecords(ctx, r.Domain, r.ID, p)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil && len(vers) == 0 {
		return nil, nil, packageNotFound(r, p)
	}
	return rec, vers, nil
}

func packageNotFound(r model.Repository, p formats.Package) error {
	return notFound("package", p.Name, "Package not found in repository. Repository: %s, Package = PackageCoordinate{packageType=%s, packageNamespace=%s, packageName=%s}", r.Name, p.Format, p.Namespace, p.Name)
}

// ListPackages: POST /v1/packages?domain=&repository=&format=&namespace=&package-prefix=&publish=&upstream=
func (h *Handler) listPackages(c echo.Context) error {
	r, p, err := h.packageParams(c, false)
	if err != nil {
		return err
	}
	recs, err := h.Resolver.PackageRecords(c.Request().Context(), r.Domain, r.ID, p.Format)
	if err != nil {
		return err
	}
	nsPrefix, namePrefix := c.QueryParam("namespace"), c.QueryParam("package-prefix")
	pub, up := c.QueryParam("publish"), c.QueryParam("upstream")
	var kept []*resolver.PackageRecord
	for _, rec := range recs {
		if !strings.HasPrefix(rec.Package.Namespace, nsPrefix) || !strings.HasPrefix(rec.Package.Name, namePrefix) {
			continue
		}
		if o := originOf(rec).Restrictions; (pub != "" && o.Publish != pub) || (up != "" && o.Upstream != up) {
			continue
		}
		kept = append(kept, rec)
	}
	name := func(rec *resolver.PackageRecord) string {
		return rec.Package.Format + "\x00" + rec.Package.Namespace + "\x00" + rec.Package.Name
	}
	sort.Slice(kept, func(i, j int) bool { return name(kept[i]) < name(kept[j]) })
	items, next, err := page(c, kept, name, 0, "")
	if err != nil {
		return err
	}
	type summary struct {
		Format              string           `json:"format"`
		Namespace           string           `json:"namespace,omitempty"`
		Package             string           `json:"package"`
		OriginConfiguration originConfigJSON `json:"originConfiguration"`
	}
	out := make([]summary, 0, len(items))
	for _, rec := range items {
		out = append(out, summary{Format: rec.Package.Format, Namespace: rec.Package.Namespace, Package: rec.Package.Name,
			OriginConfiguration: originOf(rec)})
	}
	return listed(c, map[string]any{"packages": out}, next)
}

// DescribePackage: GET /v1/package?…&format=&namespace=&package=
func (h *Handler) describePackage(c echo.Context) error {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return err
	}
	rec, err := h.Resolver.PackageRecord(c.Request().Context(), r.Domain, r.ID, p)
	if err != nil {
		return err
	}
	if rec == nil {
		return packageNotFound(r, p)
	}
	out := packageFields(p, "name")
	out["originConfiguration"] = originOf(rec)
	return c.JSON(http.StatusOK, map[string]any{"package": out})
}

// ListPackageVersions: POST /v1/package/versions?…&status=&sortBy=&originType=
func (h *Handler) listPackageVersions(c echo.Context) error {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return err
	}
	rec, vers, err := h.packageRecords(c.Request().Context(), r, p)
	if err != nil {
		return err
	}
	status, originType := c.QueryParam("status"), c.QueryParam("originType")
	var kept []*resolver.VersionRecord
	for _, v := range vers {
		if (status == "" || string(v.Status) == status) && (originType == "" || v.Origin.Type == originType) {
			kept = append(kept, v)
		}
	}
	if c.QueryParam("sortBy") == "PUBLISHED_TIME" {
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].Published.After(kept[j].Published) })
	}
	items, next, err := page(c, kept, func(v *resolver.VersionRecord) string { return v.Version.Version }, 0, "")
	if err != nil {
		return err
	}
	type summary struct {
		Version  string     `json:"version"`
		Revision string     `json:"revision"`
		Status   string     `json:"status"`
		Origin   originJSON `json:"origin"`
	}
	out := make([]summary, 0, len(items))
	var newest *resolver.VersionRecord
	for _, v := range vers {
		if v.Status == formats.StatusPublished && (newest == nil || v.Published.After(newest.Published)) {
			newest = v
		}
	}
	for _, v := range items {
		out = append(out, summary{Version: v.Version.Version, Revision: v.Revision, Status: string(v.Status), Origin: origin(v.Origin)})
	}
	res := packageFields(p, "package")
	res["versions"] = out
	if rec != nil && rec.Tags["latest"] != "" {
		res["defaultDisplayVersion"] = rec.Tags["latest"]
	} else if newest != nil {
		res["defaultDisplayVersion"] = newest.Version.Version
	}
	return listed(c, res, next)
}

func (h *Handler) versionRecord(c echo.Context) (model.Repository, formats.Package, *resolver.VersionRecord, error) {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return r, p, nil, err
	}
	version, err := query(c, "version")
	if err != nil {
		return r, p, nil, err
	}
	version = h.normalizeVersion(p, version)
	v, err := h.Resolver.VersionRecord(c.Request().Context(), r.Domain, r.ID, p, version)
	if err != nil {
		return r, p, nil, err
	}
	if v == nil {
		return r, p, nil, notFound("package-version", version, "Package version not found in repository. Repository: %s, Package = %s, Version = %s", r.Name, p.Name, version)
	}
	return r, p, v, nil
}

// DescribePackageVersion: GET /v1/package/version?…&version=
func (h *Handler) describePackageVersion(c echo.Context) error {
	p, v, d, err := h.describedVersion(c)
	if err != nil {
		return err
	}
	display := p.Name
	if p.Format == "npm" && p.Namespace != "" {
		display = "@" + p.Namespace + "/" + p.Name
	}
	lic := d.Licenses
	if lic == nil {
		lic = []formats.License{}
	}
	out := packageFields(p, "packageName")
	out["displayName"], out["version"], out["publishedTime"] = display, v.Version.Version, epoch(v.Published)
	out["revision"], out["status"], out["origin"], out["licenses"] = v.Revision, string(v.Status), origin(v.Origin), lic
	if d.Summary != "" {
		out["summary"] = d.Summary
	}
	if d.HomePage != "" {
		out["homePage"] = d.HomePage
	}
	if d.SourceCodeRepository != "" {
		out["sourceCodeRepository"] = d.SourceCodeRepository
	}
	return c.JSON(http.StatusOK, map[string]any{"packageVersion": out})
}

// ListPackageVersionAssets: POST /v1/package/version/assets?…&version=
func (h *Handler) listPackageVersionAssets(c echo.Context) error {
	_, p, v, err := h.versionRecord(c)
	if err != nil {
		return err
	}
	type asset struct {
		Name   string            `json:"name"`
		Size   int64             `json:"size"`
		Hashes map[string]string `json:"hashes"`
	}
	assets := append([]formats.AssetRef(nil), v.Assets...)
	sort.Slice(assets, func(i, j int) bool { return assets[i].Name < assets[j].Name })
	items, next, err := page(c, assets, func(a formats.AssetRef) string { return a.Name }, 0, "")
	if err != nil {
		return err
	}
	out := make([]asset, 0, len(items))
	for _, a := range items {
		hashes := map[string]string{}
		for k, val := range map[string]string{"MD5": a.Digests.MD5, "SHA-1": a.Digests.SHA1, "SHA-256": a.Digests.SHA256, "SHA-512": a.Digests.SHA512} {
			if val != "" {
				hashes[k] = val
			}
		}
		out = append(out, asset{Name: a.Name, Size: a.Size, Hashes: hashes})
	}
	res := versionFields(p, v)
	res["assets"] = out
	return listed(c, res, next)
}

func licenses(raw json.RawMessage) []formats.License {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return []formats.License{{Name: s}}
	}
	var obj struct{ Type, URL string }
	if json.Unmarshal(raw, &obj) == nil && obj.Type != "" {
		return []formats.License{{Name: obj.Type, URL: obj.URL}}
	}
	return nil
}

func repositoryURL(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct{ URL string }
	_ = json.Unmarshal(raw, &obj)
	return obj.URL
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
