package controlplane

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
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

func (h *Handler) getRepositoryCooldown(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	r, err := h.Registry.Repository(domain, repo)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cooldownBody{Cooldown: r.Cooldown})
}

func (h *Handler) putRepositoryCooldown(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	var body cooldownBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	r, err := h.Registry.SetRepositoryCooldown(c.Request().Context(), domain, repo, body.Cooldown)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cooldownBody{Cooldown: r.Cooldown})
}

func (h *Handler) getGroupCooldown(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	g, err := h.Registry.Group(domain, pattern)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cooldownBody{Cooldown: g.Cooldown})
}

func (h *Handler) putGroupCooldown(c echo.Context) error {
	domain, pattern, err := h.groupParam(c)
	if err != nil {
		return err
	}
	var body cooldownBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	g, err := h.Registry.SetGroupCooldown(c.Request().Context(), domain, pattern, body.Cooldown)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cooldownBody{Cooldown: g.Cooldown})
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
