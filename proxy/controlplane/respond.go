package controlplane

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// The helpers below are the shapes most operations share: read the query,
// decode the body, call the registry, answer with one described resource or
// with one page of a list.

// one answers {key: show(v)} for the result of a call, or the call's error.
func one[T, J any](c echo.Context, key string, v T, err error, show func(T) J) error {
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{key: show(v)})
}

// listed answers res, with the nextToken when there is a next page.
func listed(c echo.Context, res map[string]any, next string) error {
	if next != "" {
		res["nextToken"] = next
	}
	return c.JSON(http.StatusOK, res)
}

// packageFields starts a result that names p: its format, its name under
// nameKey (CodeArtifact says "package" in most results, "name" or
// "packageName" in some) and its namespace when it has one.
func packageFields(p formats.Package, nameKey string) map[string]any {
	out := map[string]any{"format": p.Format, nameKey: p.Name}
	if p.Namespace != "" {
		out["namespace"] = p.Namespace
	}
	return out
}

// versionFields starts a result that names a package version: the
// package's fields, the version and its revision.
func versionFields(p formats.Package, v *resolver.VersionRecord) map[string]any {
	out := packageFields(p, "package")
	out["version"], out["versionRevision"] = v.Version.Version, v.Revision
	return out
}

// decodeTagged decodes the optional JSON body into v, whose tags member is
// tags, and checks those tags.
func decodeTagged(c echo.Context, v any, tags *[]tagJSON) ([]model.Tag, error) {
	if err := decodeBody(c, v); err != nil {
		return nil, err
	}
	return tagsFrom(*tags)
}
