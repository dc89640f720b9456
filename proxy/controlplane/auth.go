package controlplane

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// GetRepositoryEndpoint: GET /v1/repository/endpoint?domain=&repository=&format=
func (h *Handler) getRepositoryEndpoint(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	format, err := query(c, "format")
	if err != nil {
		return err
	}
	if !validFormat(format) {
		return validation("format %q is not one of npm, pypi, maven, nuget, generic, ruby, swift, cargo", format)
	}
	if t := c.QueryParam("endpointType"); t != "" && t != "ipv4" && t != "dualstack" {
		return validation("endpointType %q must be ipv4 or dualstack", t)
	}
	if _, err := h.Registry.Repository(domain, repo); err != nil {
		return err
	}
	url := h.BaseURL(c.Request()) + "/" + domain + "/" + format + "/" + repo + "/"
	return c.JSON(http.StatusOK, map[string]string{"repositoryEndpoint": url})
}

// GetAuthorizationToken: POST /v1/authorization-token?domain=&duration=
func (h *Handler) getAuthorizationToken(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	ttl := h.TokenTTL
	if s := c.QueryParam("duration"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || (n != 0 && (n < 900 || n > 43200)) {
			return validation("duration must be 0 or between 900 and 43200 seconds")
		}
		if n != 0 {
			ttl = time.Duration(n) * time.Second
		}
	}
	if _, err := h.Registry.Domain(domain); err != nil {
		return err
	}
	key, principal := h.Caller(c)
	tok, exp := h.Tokens.MintKey(domain, key, principal, ttl)
	return c.JSON(http.StatusOK, map[string]any{"authorizationToken": tok, "expiration": epoch(exp)})
}
