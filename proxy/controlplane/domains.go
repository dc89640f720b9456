package controlplane

import (
	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/model"
)

type tagJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type domainDescription struct {
	Name            string `json:"name"`
	Owner           string `json:"owner"`
	ARN             string `json:"arn"`
	Status          string `json:"status"`
	CreatedTime     epoch  `json:"createdTime"`
	EncryptionKey   string `json:"encryptionKey,omitempty"`
	RepositoryCount *int   `json:"repositoryCount,omitempty"`
	AssetSizeBytes  *int64 `json:"assetSizeBytes,omitempty"`
}

func (h *Handler) domainDescription(d model.DomainInfo, full bool) domainDescription {
	out := domainDescription{Name: d.Name, Owner: h.account(), ARN: h.arns().Domain(d.Name), Status: "Active", CreatedTime: epoch(d.CreatedTime)}
	if full {
		n := d.RepositoryCount
		var size int64
		out.RepositoryCount, out.AssetSizeBytes = &n, &size
	}
	return out
}

func tagsFrom(in []tagJSON) ([]model.Tag, error) {
	if len(in) > 200 {
		return nil, validation("a resource can have at most 200 tags")
	}
	out := make([]model.Tag, 0, len(in))
	for _, t := range in {
		if len(t.Key) < 1 || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, validation("tag keys are 1 to 128 characters and values at most 256")
		}
		out = append(out, model.Tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}

// CreateDomain: POST /v1/domain?domain=
func (h *Handler) createDomain(c echo.Context) error {
	name, err := query(c, "domain")
	if err != nil {
		return err
	}
	var body struct {
		EncryptionKey string    `json:"encryptionKey"`
		Tags          []tagJSON `json:"tags"`
	}
	tags, err := decodeTagged(c, &body, &body.Tags)
	if err != nil {
		return err
	}
	d, err := h.Registry.CreateDomain(c.Request().Context(), name, tags)
	return one(c, "domain", model.DomainInfo{Domain: d}, err, h.fullDomain)
}

// fullDomain describes a domain with its counts, as the operations on one
// domain answer.
func (h *Handler) fullDomain(d model.DomainInfo) domainDescription {
	return h.domainDescription(d, true)
}

// DescribeDomain: GET /v1/domain?domain=&domain-owner=
func (h *Handler) describeDomain(c echo.Context) error {
	name, err := h.domainParam(c)
	if err != nil {
		return err
	}
	d, err := h.Registry.Domain(name)
	return one(c, "domain", d, err, h.fullDomain)
}

// DeleteDomain: DELETE /v1/domain?domain=&domain-owner=
func (h *Handler) deleteDomain(c echo.Context) error {
	name, err := h.domainParam(c)
	if err != nil {
		return err
	}
	d, err := h.Registry.DeleteDomain(c.Request().Context(), name)
	return one(c, "domain", d, err, func(d model.DomainInfo) domainDescription {
		desc := h.fullDomain(d)
		desc.Status = "Deleted"
		return desc
	})
}

// ListDomains: POST /v1/domains with {maxResults, nextToken} in the body.
func (h *Handler) listDomains(c echo.Context) error {
	var body struct {
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	items, next, err := page(c, h.Registry.Domains(), func(d model.DomainInfo) string { return d.Name }, body.MaxResults, body.NextToken)
	if err != nil {
		return err
	}
	out := make([]domainDescription, 0, len(items))
	for _, d := range items {
		out = append(out, h.domainDescription(d, false))
	}
	return listed(c, map[string]any{"domains": out}, next)
}
