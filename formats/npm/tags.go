package npm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// distTags serves GET /-/package/{pkg}/dist-tags: the tags a client of this
// repository sees in the packument.
func (h *handler) distTags(c echo.Context, rt route) error {
	req := c.Request()
	ref := formats.RepoFrom(c)
	doc, err := h.res.Render(req.Context(), ref, rt.pkg, "dist-tags", func(v *formats.View) (*formats.Rendered, error) {
		pr := prepare(v)
		if len(pr.listed) == 0 {
			return nil, notFound(v.Package)
		}
		b, err := json.Marshal(pr.tags)
		if err != nil {
			return nil, err
		}
		return &formats.Rendered{Body: b, ContentType: mediaJSON}, nil
	})
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, doc, packumentCacheControl, "Accept")
}

// storesPackage reports whether the repository itself holds a version of
// the package. Tags are kept with the package in the repository; setting
// one where the package is not stored would create its record there with
// publish-time origin controls, which block upstream versions.
func storesPackage(v *formats.View, repo string) bool {
	for _, vv := range v.Versions {
		if vv.Repository == repo && vv.Connection == "" {
			return true
		}
	}
	return false
}

// setDistTag serves PUT|POST /-/package/{pkg}/dist-tags/{tag}; the body is
// the version as a JSON string.
func (h *handler) setDistTag(c echo.Context, rt route) error {
	tag := rt.spec
	if err := checkTag(tag); err != nil {
		return err
	}
	body, err := readSmall(c.Request(), 4<<10)
	if err != nil {
		return err
	}
	var version string
	if err := json.Unmarshal(body, &version); err != nil {
		// Some clients send the bare version.
		version = strings.TrimSpace(string(body))
	}
	if err := checkVersion(version); err != nil {
		return err
	}
	ctx, ref, v, err := h.freshView(c, rt.pkg)
	if err != nil {
		return err
	}
	if vv, ok := v.Versions[version]; !ok || !vv.Status.Listed() {
		return fmt.Errorf("%w: npm: version %s of %s is not available in repository %s", formats.ErrNotFound, version, displayName(rt.pkg), ref.Repository)
	}
	if !storesPackage(v, ref.Repository) {
		return fmt.Errorf("%w: npm: repository %s stores no version of %s: set its dist-tags where it is stored, or install a version through this repository first", formats.ErrNotAllowed, ref.Repository, displayName(rt.pkg))
	}
	err = h.res.UpdatePackage(ctx, ref, rt.pkg, func(st *formats.PackageState) error {
		st.Tags[tag] = version
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "id": displayName(rt.pkg), "dist-tags": map[string]string{tag: version}})
}

// deleteDistTag serves DELETE /-/package/{pkg}/dist-tags/{tag}. latest is
// never removed. A tag that an upstream also sets is hidden with an empty
// value here, since the view takes each tag from the most downstream
// repository that has it.
func (h *handler) deleteDistTag(c echo.Context, rt route) error {
	tag := rt.spec
	if tag == "latest" {
		return invalid("the latest dist-tag cannot be removed")
	}
	if err := checkTag(tag); err != nil {
		return err
	}
	ctx, ref, v, err := h.freshView(c, rt.pkg)
	if err != nil {
		return err
	}
	if _, ok := prepare(v).tags[tag]; !ok {
		return fmt.Errorf("%w: npm: %s has no dist-tag %s", formats.ErrNotFound, displayName(rt.pkg), tag)
	}
	if !storesPackage(v, ref.Repository) {
		return fmt.Errorf("%w: npm: repository %s stores no version of %s: change its dist-tags where it is stored", formats.ErrNotAllowed, ref.Repository, displayName(rt.pkg))
	}
	if err := h.res.UpdatePackage(ctx, ref, rt.pkg, func(st *formats.PackageState) error {
		delete(st.Tags, tag)
		return nil
	}); err != nil {
		return err
	}
	v, err = h.res.View(formats.Fresh(ctx), ref, rt.pkg)
	if err != nil {
		return err
	}
	if _, ok := prepare(v).tags[tag]; ok {
		if err := h.res.UpdatePackage(ctx, ref, rt.pkg, func(st *formats.PackageState) error {
			st.Tags[tag] = ""
			return nil
		}); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "id": displayName(rt.pkg)})
}

// freshView reads the package's view past the engine's caches, as a write
// decides on it, and returns it with the request's context and repository.
func (h *handler) freshView(c echo.Context, p formats.Package) (context.Context, formats.RepoRef, *formats.View, error) {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	v, err := h.res.View(formats.Fresh(ctx), ref, p)
	return ctx, ref, v, err
}
