package controlplane

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// The supply-chain firewall's settings are Stockpile's own operations,
// beyond CodeArtifact's API, signed and authorised like the rest (actions
// stockpile:GetRepositoryCooldown and stockpile:PutRepositoryCooldown on
// the repository, stockpile:GetPackageGroupCooldown and
// stockpile:PutPackageGroupCooldown on the package group,
// stockpile:ListHeldPackageVersions on the package):
//
//	GET /v1/stockpile/cooldown?domain=&repository=               → {cooldown}
//	PUT /v1/stockpile/cooldown?domain=&repository=               {cooldown} → {cooldown}
//	GET /v1/stockpile/package-group-cooldown?domain=&package-group= → {cooldown}
//	PUT /v1/stockpile/package-group-cooldown?domain=&package-group= {cooldown} → {cooldown}
//	GET /v1/stockpile/held?domain=&repository=&format=&namespace=&package=
//	    → {cooldown, source, versions: [{version, published, availableFrom, mode}]}
//
// cooldown is {minAge: "7d", mode: hide|deny, missingTime: allow|deny,
// exempt: [patterns]}, or null for none (a PUT of null removes it).

type cooldownBody struct {
	Cooldown *firewall.Cooldown `json:"cooldown"`
}

// names reads the query parameters that name a resource: domain and
// repository, or domain and package group.
type names func(echo.Context) (domain, name string, err error)

// cooldownOf answers a GET of a cooldown: get reads the resource the query
// names, of is its cooldown.
func cooldownOf[T any](c echo.Context, params names, get func(domain, name string) (T, error), of func(T) *firewall.Cooldown) error {
	domain, name, err := params(c)
	if err != nil {
		return err
	}
	v, err := get(domain, name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cooldownBody{Cooldown: of(v)})
}

// setCooldown answers a PUT of a cooldown: set stores the body's cooldown
// on the resource the query names and returns the resource.
func setCooldown[T any](c echo.Context, params names, set func(ctx context.Context, domain, name string, cd *firewall.Cooldown) (T, error), of func(T) *firewall.Cooldown) error {
	return cooldownOf(c, params, func(domain, name string) (T, error) {
		var body cooldownBody
		if err := decodeBody(c, &body); err != nil {
			var zero T
			return zero, err
		}
		return set(c.Request().Context(), domain, name, body.Cooldown)
	}, of)
}

func repositoryCooldown(r model.Repository) *firewall.Cooldown { return r.Cooldown }
func groupCooldown(g model.Group) *firewall.Cooldown           { return g.Cooldown }

func (h *Handler) getRepositoryCooldown(c echo.Context) error {
	return cooldownOf(c, h.repoParams, h.Registry.Repository, repositoryCooldown)
}

func (h *Handler) putRepositoryCooldown(c echo.Context) error {
	return setCooldown(c, h.repoParams, h.Registry.SetRepositoryCooldown, repositoryCooldown)
}

func (h *Handler) getGroupCooldown(c echo.Context) error {
	return cooldownOf(c, h.groupParam, h.Registry.Group, groupCooldown)
}

func (h *Handler) putGroupCooldown(c echo.Context) error {
	return setCooldown(c, h.groupParam, h.Registry.SetGroupCooldown, groupCooldown)
}

type heldJSON struct {
	Version       string `json:"version"`
	Published     *epoch `json:"published,omitempty"`
	AvailableFrom *epoch `json:"availableFrom,omitempty"`
	Mode          string `json:"mode"`
}

// listHeld lists the versions of a package the cooldown holds back from
// the repository's clients now, and the cooldown that applies.
func (h *Handler) listHeld(c echo.Context) error {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return err
	}
	ref := formats.RepoRef{Domain: r.Domain, Repository: r.Name}
	held, err := h.Resolver.Held(c.Request().Context(), ref, p)
	if err != nil {
		return err
	}
	out := map[string]any{"cooldown": nil, "source": "", "versions": []heldJSON{}}
	if cd, ok := h.Registry.CooldownFor(r.Domain, r.Name, p.Format, p.Namespace, p.Name); ok {
		out["cooldown"], out["source"] = cd.Cooldown, cd.Source
	}
	vs := make([]heldJSON, 0, len(held))
	for _, hv := range held {
		j := heldJSON{Version: hv.Version, Mode: hv.Mode}
		if !hv.Published.IsZero() {
			e := epoch(hv.Published)
			j.Published = &e
		}
		if !hv.Until.IsZero() {
			e := epoch(hv.Until)
			j.AvailableFrom = &e
		}
		vs = append(vs, j)
	}
	out["versions"] = vs
	return c.JSON(http.StatusOK, out)
}
