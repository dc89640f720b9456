package controlplane

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/scoped"
)

// Scoped long-lived tokens are Stockpile's own operations, beyond
// CodeArtifact's API, signed and authorised like the rest (actions
// stockpile:CreateScopedToken, stockpile:ListScopedTokens,
// stockpile:RevokeScopedToken on the domain):
//
//	POST   /v1/stockpile/scoped-token?domain=       {name, repositories, access, durationSeconds}
//	       → {token: ScopedToken, secret}
//	POST   /v1/stockpile/scoped-tokens?domain=      → {tokens: [ScopedToken]}
//	DELETE /v1/stockpile/scoped-token?domain=&name= → {token: ScopedToken}
//
// ScopedToken is {name, domainName, repositories, access, createdTime,
// expiration}; the secret is returned once, by the create call.

type scopedTokenJSON struct {
	Name         string   `json:"name"`
	DomainName   string   `json:"domainName"`
	Repositories []string `json:"repositories"`
	Access       string   `json:"access"`
	CreatedTime  epoch    `json:"createdTime"`
	Expiration   epoch    `json:"expiration"`
}

func scopedJSON(t scoped.Token) scopedTokenJSON {
	return scopedTokenJSON{Name: t.Name, DomainName: t.Domain, Repositories: t.Repositories, Access: t.Access,
		CreatedTime: epoch(t.Created), Expiration: epoch(t.Expires)}
}

// scopedError maps the registry's errors to CodeArtifact's types.
func scopedError(err error, name string) error {
	switch {
	case errors.Is(err, scoped.ErrInvalid):
		return validation("%s", err.Error())
	case errors.Is(err, scoped.ErrExists):
		return &Error{Type: "ConflictException", Status: http.StatusConflict, Message: err.Error(), ResourceType: "scoped-token", ResourceID: name}
	case errors.Is(err, scoped.ErrNotFound):
		return notFound("scoped-token", name, "%s", err.Error())
	}
	return err
}

func (h *Handler) createScopedToken(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	var body struct {
		Name            string   `json:"name"`
		Repositories    []string `json:"repositories"`
		Access          string   `json:"access"`
		DurationSeconds int64    `json:"durationSeconds"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if _, err := h.Registry.Domain(domain); err != nil {
		return err
	}
	for _, r := range body.Repositories {
		if _, err := h.Registry.Repository(domain, r); err != nil {
			return err
		}
	}
	life := 90 * 24 * time.Hour
	if body.DurationSeconds != 0 {
		life = time.Duration(body.DurationSeconds) * time.Second
	}
	t, secret, err := h.Scoped.Create(c.Request().Context(), domain, body.Name, body.Repositories, body.Access, life)
	if err != nil {
		return scopedError(err, body.Name)
	}
	return c.JSON(http.StatusOK, map[string]any{"token": scopedJSON(t), "secret": secret})
}

func (h *Handler) listScopedTokens(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	if _, err := h.Registry.Domain(domain); err != nil {
		return err
	}
	out := []scopedTokenJSON{}
	for _, t := range h.Scoped.List(domain) {
		out = append(out, scopedJSON(t))
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

func (h *Handler) revokeScopedToken(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	name, err := query(c, "name")
	if err != nil {
		return err
	}
	t, err := h.Scoped.Revoke(c.Request().Context(), domain, name)
	if err != nil {
		return scopedError(err, name)
	}
	return c.JSON(http.StatusOK, map[string]any{"token": scopedJSON(t)})
}
