package controlplane

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// PutPackageOriginConfiguration: POST /v1/package?…&format=&namespace=&package=
// with {restrictions: {publish, upstream}}. On a package the repository does
// not hold yet it creates an empty record, blocking a name in advance.
func (h *Handler) putPackageOriginConfiguration(c echo.Context) error {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return err
	}
	var body struct {
		Restrictions *restrictionsJSON `json:"restrictions"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	rs := body.Restrictions
	if rs == nil || !allowOrBlock(rs.Publish) || !allowOrBlock(rs.Upstream) {
		return validation("restrictions.publish and restrictions.upstream are both required, each ALLOW or BLOCK")
	}
	ctx := c.Request().Context()
	err = h.Resolver.UpdateRecords(ctx, r.Domain, p, func(w *resolver.Records) error {
		rec, err := h.Resolver.PackageRecord(ctx, r.Domain, r.ID, p)
		if err != nil {
			return err
		}
		if rec == nil {
			rec = &resolver.PackageRecord{Package: p}
		}
		rec.Origin = resolver.OriginConfig{Publish: rs.Publish, Upstream: rs.Upstream, Admin: true}
		return w.PutPackage(ctx, r.ID, rec)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"originConfiguration": originConfigJSON{Restrictions: *rs}})
}

func allowOrBlock(s string) bool { return s == resolver.Allow || s == resolver.Block }

// DeletePackage: DELETE /v1/package — the package and all its versions, in
// this repository only.
func (h *Handler) deletePackage(c echo.Context) error {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var rec *resolver.PackageRecord
	err = h.Resolver.UpdateRecords(ctx, r.Domain, p, func(w *resolver.Records) error {
		var err error
		if rec, _, err = h.packageRecords(ctx, r, p); err != nil {
			return err
		}
		return w.DeleteAll(ctx, r.ID)
	})
	if err != nil {
		return err
	}
	if h.Collect != nil {
		h.Collect()
	}
	out := packageFields(p, "package")
	if rec != nil {
		out["originConfiguration"] = originOf(rec)
	}
	return c.JSON(http.StatusOK, map[string]any{"deletedPackage": out})
}
