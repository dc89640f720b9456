package controlplane

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// resource is a taggable resource named by its ARN.
type resource struct {
	domain, repository string // repository empty for a domain
}

// resourceParam reads and parses the resourceArn query parameter.
func resourceParam(c echo.Context) (resource, error) {
	arn, err := query(c, "resourceArn")
	if err != nil {
		return resource{}, err
	}
	return parseARN(arn)
}

func parseARN(arn string) (resource, error) {
	prefix := "arn:aws:codeartifact:"
	parts := strings.SplitN(strings.TrimPrefix(arn, prefix), ":", 3)
	if !strings.HasPrefix(arn, prefix) || len(parts) != 3 {
		return resource{}, validation("resourceArn %q is not a CodeArtifact ARN", arn)
	}
	path := strings.Split(parts[2], "/")
	switch {
	case len(path) == 2 && path[0] == "domain":
		return resource{domain: path[1]}, nil
	case len(path) == 3 && path[0] == "repository":
		return resource{domain: path[1], repository: path[2]}, nil
	}
	return resource{}, validation("resourceArn %q names neither a domain nor a repository", arn)
}

func (h *Handler) tagsOf(res resource) ([]model.Tag, error) {
	if res.repository == "" {
		d, err := h.Registry.Domain(res.domain)
		return d.Tags, err
	}
	r, err := h.Registry.Repository(res.domain, res.repository)
	return r.Tags, err
}

func (h *Handler) setTags(c echo.Context, res resource, tags []model.Tag) error {
	if len(tags) > 200 {
		return validation("a resource can have at most 200 tags")
	}
	if res.repository == "" {
		return h.Registry.SetDomainTags(c.Request().Context(), res.domain, tags)
	}
	_, err := h.Registry.SetRepositoryTags(c.Request().Context(), res.domain, res.repository, tags)
	return err
}

func tagsJSON(tags []model.Tag) []tagJSON {
	out := make([]tagJSON, 0, len(tags))
	for _, t := range tags {
		out = append(out, tagJSON{Key: t.Key, Value: t.Value})
	}
	return out
}

// retag changes the tags of the resource the query names: decode reads
// the body, then change makes the new tags from the current ones.
func (h *Handler) retag(c echo.Context, decode func() error, change func(cur []model.Tag) []model.Tag) error {
	res, err := resourceParam(c)
	if err != nil {
		return err
	}
	if err := decode(); err != nil {
		return err
	}
	cur, err := h.tagsOf(res)
	if err != nil {
		return err
	}
	if err := h.setTags(c, res, change(cur)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{})
}

// TagResource: POST /v1/tag?resourceArn= with {tags}; a key given again
// replaces its value.
func (h *Handler) tagResource(c echo.Context) error {
	var add []model.Tag
	decode := func() (err error) {
		var body struct {
			Tags []tagJSON `json:"tags"`
		}
		add, err = decodeTagged(c, &body, &body.Tags)
		return err
	}
	return h.retag(c, decode, func(cur []model.Tag) []model.Tag {
		out := append([]model.Tag(nil), cur...)
		for _, t := range add {
			replaced := false
			for i := range out {
				if out[i].Key == t.Key {
					out[i].Value, replaced = t.Value, true
				}
			}
			if !replaced {
				out = append(out, t)
			}
		}
		return out
	})
}

// UntagResource: POST /v1/untag?resourceArn= with {tagKeys}.
func (h *Handler) untagResource(c echo.Context) error {
	var body struct {
		TagKeys []string `json:"tagKeys"`
	}
	return h.retag(c, func() error { return decodeBody(c, &body) }, func(cur []model.Tag) []model.Tag {
		drop := map[string]bool{}
		for _, k := range body.TagKeys {
			drop[k] = true
		}
		var out []model.Tag
		for _, t := range cur {
			if !drop[t.Key] {
				out = append(out, t)
			}
		}
		return out
	})
}

// ListTagsForResource: POST /v1/tags?resourceArn=
func (h *Handler) listTagsForResource(c echo.Context) error {
	res, err := resourceParam(c)
	if err != nil {
		return err
	}
	tags, err := h.tagsOf(res)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tags": tagsJSON(tags)})
}
