package controlplane

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
)

type groupRef struct {
	ARN     string `json:"arn"`
	Pattern string `json:"pattern"`
}

type groupRestriction struct {
	Mode              string    `json:"mode"`
	EffectiveMode     string    `json:"effectiveMode"`
	InheritedFrom     *groupRef `json:"inheritedFrom,omitempty"`
	RepositoriesCount int       `json:"repositoriesCount"`
}

type groupDescription struct {
	ARN                 string                                 `json:"arn"`
	Pattern             string                                 `json:"pattern"`
	DomainName          string                                 `json:"domainName"`
	DomainOwner         string                                 `json:"domainOwner"`
	CreatedTime         epoch                                  `json:"createdTime"`
	ContactInfo         string                                 `json:"contactInfo,omitempty"`
	Description         string                                 `json:"description,omitempty"`
	OriginConfiguration map[string]map[string]groupRestriction `json:"originConfiguration"`
	Parent              *groupRef                              `json:"parent,omitempty"`
}

func (h *Handler) describeGroup(g model.Group) groupDescription {
	d := groupDescription{
		ARN: h.arns().PackageGroup(g.Domain, g.Pattern), Pattern: g.Pattern, DomainName: g.Domain, DomainOwner: h.account(),
		CreatedTime: epoch(g.CreatedTime), ContactInfo: g.ContactInfo, Description: g.Description,
		OriginConfiguration: map[string]map[string]groupRestriction{"restrictions": {}},
	}
	if p := h.Registry.Parent(g.Domain, g.Pattern); p != "" {
		d.Parent = &groupRef{ARN: h.arns().PackageGroup(g.Domain, p), Pattern: p}
	}
	for _, typ := range model.RestrictionTypes {
		e := h.Registry.EffectiveRestriction(g.Domain, g.Pattern, typ)
		r := groupRestriction{Mode: e.Mode, EffectiveMode: e.EffectiveMode, RepositoriesCount: len(g.Allowed[typ])}
		if e.InheritedFrom != "" {
			r.InheritedFrom = &groupRef{ARN: h.arns().PackageGroup(g.Domain, e.InheritedFrom), Pattern: e.InheritedFrom}
		}
		d.OriginConfiguration["restrictions"][typ] = r
	}
	return d
}

func (h *Handler) groupParam(c echo.Context) (string, string, error) {
	domain, err := h.domainParam(c)
	return domain, c.QueryParam("package-group"), err
}

// CreatePackageGroup: POST /v1/package-group?domain= with {packageGroup, contactInfo, description, tags}
func (h *Handler) createPackageGroup(c echo.Context) error {
	domain, _, err := h.groupParam(c)
	if err != nil {
		return err
	}
	var body struct {
		PackageGroup string    `json:"packageGroup"`
		ContactInfo  string    `json:"contactInfo"`
		Description  string    `json:"description"`
		Tags         []tagJSON `json:"tags"`
	}
	tags, err := decodeTagged(c, &body, &body.Tags)
	if err != nil {
		return err
	}
	g, err := h.Registry.CreateGroup(c.Request().Context(), domain, body.PackageGroup, body.Description, body.ContactInfo, tags)
	return one(c, "packageGroup", g, err, h.describeGroup)
}

// DescribePackageGroup: GET /v1/package-group?domain=&package-group=
func (h *Handler) describePackageGroup(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	g, err := h.Registry.Group(domain, pattern)
	return one(c, "packageGroup", g, err, h.describeGroup)
}

// UpdatePackageGroup: PUT /v1/package-group?domain= with {packageGroup, contactInfo, description}
func (h *Handler) updatePackageGroup(c echo.Context) error {
	domain, _, err := h.groupParam(c)
	if err != nil {
		return err
	}
	var body struct {
		PackageGroup string  `json:"packageGroup"`
		ContactInfo  *string `json:"contactInfo"`
		Description  *string `json:"description"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	g, err := h.Registry.UpdateGroup(c.Request().Context(), domain, body.PackageGroup, body.Description, body.ContactInfo)
	return one(c, "packageGroup", g, err, h.describeGroup)
}

// UpdatePackageGroupOriginConfiguration: PUT /v1/package-group-origin-configuration?domain=&package-group=
func (h *Handler) updatePackageGroupOriginConfiguration(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	type repoChange struct {
		RepositoryName        string `json:"repositoryName"`
		OriginRestrictionType string `json:"originRestrictionType"`
	}
	var body struct {
		Restrictions              map[string]string `json:"restrictions"`
		AddAllowedRepositories    []repoChange      `json:"addAllowedRepositories"`
		RemoveAllowedRepositories []repoChange      `json:"removeAllowedRepositories"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	conv := func(in []repoChange) []model.AllowedChange {
		out := make([]model.AllowedChange, 0, len(in))
		for _, r := range in {
			out = append(out, model.AllowedChange{Repository: r.RepositoryName, Type: r.OriginRestrictionType})
		}
		return out
	}
	g, changes, err := h.Registry.UpdateGroupOrigin(c.Request().Context(), domain, pattern, body.Restrictions, conv(body.AddAllowedRepositories), conv(body.RemoveAllowedRepositories))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"packageGroup": h.describeGroup(g), "allowedRepositoryUpdates": changes})
}

// DeletePackageGroup: DELETE /v1/package-group?domain=&package-group=
func (h *Handler) deletePackageGroup(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	desc := groupDescription{}
	if g, err := h.Registry.Group(domain, pattern); err == nil {
		desc = h.describeGroup(g)
	}
	if _, err := h.Registry.DeleteGroup(c.Request().Context(), domain, pattern); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"packageGroup": desc})
}

func (h *Handler) listGroups(c echo.Context, keep func(model.Group) bool) error {
	domain, _, err := h.groupParam(c)
	if err != nil {
		return err
	}
	groups, err := h.Registry.Groups(domain)
	if err != nil {
		return err
	}
	var kept []model.Group
	for _, g := range groups {
		if keep(g) {
			kept = append(kept, g)
		}
	}
	items, next, err := page(c, kept, func(g model.Group) string { return g.Pattern }, 0, "")
	if err != nil {
		return err
	}
	out := make([]groupDescription, 0, len(items))
	for _, g := range items {
		out = append(out, h.describeGroup(g))
	}
	return listed(c, map[string]any{"packageGroups": out}, next)
}

// ListPackageGroups: POST /v1/package-groups?domain=&prefix=
func (h *Handler) listPackageGroups(c echo.Context) error {
	prefix := c.QueryParam("prefix")
	return h.listGroups(c, func(g model.Group) bool { return strings.HasPrefix(g.Pattern, prefix) })
}

// ListSubPackageGroups: POST /v1/package-groups/sub-groups?domain=&package-group=
func (h *Handler) listSubPackageGroups(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	if _, err := h.Registry.Group(domain, pattern); err != nil {
		return err
	}
	return h.listGroups(c, func(g model.Group) bool { return h.Registry.Parent(domain, g.Pattern) == pattern })
}

// GetAssociatedPackageGroup: GET /v1/get-associated-package-group?domain=&format=&namespace=&package=
func (h *Handler) getAssociatedPackageGroup(c echo.Context) error {
	domain, _, err := h.groupParam(c)
	if err != nil {
		return err
	}
	p := h.normalize(formats.Package{Format: c.QueryParam("format"), Namespace: c.QueryParam("namespace"), Name: c.QueryParam("package")})
	if !validFormat(p.Format) || p.Name == "" {
		return validation("format and package are required")
	}
	if err := h.checkPackage(domain, p); err != nil {
		return err
	}
	a, err := h.Registry.Associate(domain, p.Format, p.Namespace, p.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"packageGroup": h.describeGroup(a.Group), "associationType": associationType(a)})
}

// ListAssociatedPackages: GET /v1/list-associated-packages?domain=&package-group=&preview=
func (h *Handler) listAssociatedPackages(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	if _, err := h.Registry.Group(domain, pattern); err != nil {
		return err
	}
	repos, err := h.Registry.Repositories(domain)
	if err != nil {
		return err
	}
	type assoc struct {
		Format          string `json:"format"`
		Namespace       string `json:"namespace,omitempty"`
		Package         string `json:"package"`
		AssociationType string `json:"associationType"`
	}
	seen := map[formats.Package]bool{}
	var out []assoc
	for _, r := range repos {
		recs, err := h.Resolver.PackageRecords(c.Request().Context(), domain, r.ID, "")
		if err != nil {
			return err
		}
		for _, rec := range recs {
			p := rec.Package
			if seen[p] {
				continue
			}
			seen[p] = true
			a, err := h.Registry.Associate(domain, p.Format, p.Namespace, p.Name)
			if err != nil {
				return err
			}
			if a.Group.Pattern != pattern {
				continue
			}
			out = append(out, assoc{Format: p.Format, Namespace: p.Namespace, Package: p.Name, AssociationType: associationType(a)})
		}
	}
	items, next, err := page(c, out, func(a assoc) string { return a.Format + "/" + a.Namespace + "/" + a.Package }, 0, "")
	if err != nil {
		return err
	}
	if items == nil {
		items = []assoc{}
	}
	return listed(c, map[string]any{"packages": items}, next)
}

// ListAllowedRepositoriesForGroup: GET /v1/package-group-allowed-repositories?domain=&package-group=&originRestrictionType=
func (h *Handler) listAllowedRepositoriesForGroup(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	typ, err := query(c, "originRestrictionType")
	if err != nil {
		return err
	}
	g, err := h.Registry.Group(domain, pattern)
	if err != nil {
		return err
	}
	items, next, err := page(c, append([]string(nil), g.Allowed[typ]...), func(s string) string { return s }, 0, "")
	if err != nil {
		return err
	}
	if items == nil {
		items = []string{}
	}
	return listed(c, map[string]any{"allowedRepositories": items}, next)
}

// associationType is CodeArtifact's name for how a package belongs to its
// group (see model.Association's Weak).
func associationType(a model.Association) string {
	if a.Weak {
		return "WEAK"
	}
	return "STRONG"
}
