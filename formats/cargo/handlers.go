package cargo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

type handler struct {
	f   *Format
	res formats.Resolver
}

// serve dispatches every request of the group.
func (h *handler) serve(c echo.Context) error {
	segs, err := splitPath(c.Param("*"))
	if err != nil {
		return err
	}
	method := c.Request().Method
	switch {
	case len(segs) == 1 && segs[0] == "config.json":
		if err := formats.Allow(c, "cargo", http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		return h.config(c)
	case len(segs) == 1 && segs[0] == "me":
		if err := formats.Allow(c, "cargo", http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		return h.me(c)
	case len(segs) >= 2 && segs[0] == "api" && segs[1] == "v1":
		return h.api(c, method, segs[2:])
	}
	if name, ok := parseIndexPath(segs); ok {
		if err := formats.Allow(c, "cargo", http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		return h.index(c, name)
	}
	return fmt.Errorf("%w: cargo: no such index file or API endpoint: /%s", formats.ErrNotFound, strings.Join(segs, "/"))
}

// api dispatches the registry web API (below api/v1/).
func (h *handler) api(c echo.Context, method string, segs []string) error {
	if len(segs) == 0 || segs[0] != "crates" {
		return fmt.Errorf("%w: cargo: no such API endpoint", formats.ErrNotFound)
	}
	switch len(segs) {
	case 1:
		if err := formats.Allow(c, "cargo", http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		return h.search(c)
	case 2:
		if segs[1] == "new" {
			if err := formats.Allow(c, "cargo", http.MethodPut); err != nil {
				return err
			}
			return h.publish(c)
		}
	case 3:
		if segs[2] == "owners" {
			switch method {
			case http.MethodGet, http.MethodHead:
				return h.owners(c, segs[1])
			case http.MethodPut, http.MethodDelete:
				return fmt.Errorf("%w: cargo: Stockpile keeps no owners per crate: who may publish, yank and read crates is decided by the repository's permissions (tokens from GetAuthorizationToken for the domain)", formats.ErrNotAllowed)
			}
			return formats.Allow(c, "cargo", http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete)
		}
	case 4:
		crate, version := segs[1], segs[2]
		switch segs[3] {
		case "download":
			if err := formats.Allow(c, "cargo", http.MethodGet, http.MethodHead); err != nil {
				return err
			}
			return h.download(c, crate, version)
		case "yank":
			if err := formats.Allow(c, "cargo", http.MethodDelete); err != nil {
				return err
			}
			return h.yank(c, crate, version, true)
		case "unyank":
			if err := formats.Allow(c, "cargo", http.MethodPut); err != nil {
				return err
			}
			return h.yank(c, crate, version, false)
		}
	}
	return fmt.Errorf("%w: cargo: no such API endpoint", formats.ErrNotFound)
}

// splitPath splits the path below the repository root in unescaped segments.
func splitPath(raw string) ([]string, error) {
	raw = strings.TrimPrefix(raw, "/")
	if raw == "" {
		return nil, nil
	}
	segs := strings.Split(raw, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("%w: cargo: bad path segment %q", formats.ErrInvalid, s)
		}
		segs[i] = u
	}
	return segs, nil
}

// authRequired tells whether reading the repository needs a token.
func authRequired(ref formats.RepoRef) bool { return ref.AuthRequired }

// registryConfig is the config.json Stockpile serves. dl has no marker, so
// cargo appends /{crate}/{version}/download: downloads land on the API route.
type registryConfig struct {
	DL           string `json:"dl"`
	API          string `json:"api"`
	AuthRequired bool   `json:"auth-required"`
}

func (h *handler) config(c echo.Context) error {
	ref := formats.RepoFrom(c)
	body, err := formats.MarshalJSON(registryConfig{DL: ref.Base + "/api/v1/crates", API: ref.Base, AuthRequired: authRequired(ref)})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	doc := &formats.Rendered{Body: body, ContentType: "application/json", ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	return formats.ServeRendered(c, doc, "no-cache", "")
}

// index serves the index file of the crate spelled name (lower-case).
func (h *handler) index(c echo.Context, name string) error {
	ref := formats.RepoFrom(c)
	ctx := withSpelling(c.Request().Context(), name)
	doc, err := h.res.Render(ctx, ref, pkg(name), "index\x00"+name, func(v *formats.View) (*formats.Rendered, error) {
		return renderIndex(v, name), nil
	})
	if err != nil {
		return err
	}
	if len(doc.Body) == 0 {
		return fmt.Errorf("%w: cargo: crate %s is not in repository %s or its upstreams", formats.ErrNotFound, name, ref.Repository)
	}
	return formats.ServeRendered(c, doc, "no-cache", "")
}

// download serves a .crate file. The name in the URL is the one of the
// index line (cargo takes {crate} from it), so it is the asset's name; a
// client spelling it otherwise is served the asset the version has.
func (h *handler) download(c echo.Context, crate, version string) error {
	if !validLookupName(crate) {
		return formats.RefusedName(crate, maxLookupName, fmt.Errorf("cargo: %.64q is not a crate name", crate))
	}
	ref := formats.RepoFrom(c)
	p := pkg(crate)
	req := c.Request().WithContext(withSpelling(c.Request().Context(), crate))
	name := crateFile(crate, version)
	err := h.res.ServeAsset(c.Response(), req, ref, p, version, name)
	if !errors.Is(err, formats.ErrNotFound) {
		return err
	}
	v, verr := h.res.View(req.Context(), ref, p)
	if verr != nil {
		return err
	}
	vv := v.Versions[version]
	if vv == nil || len(vv.Assets) != 1 || vv.Assets[0].Name == name {
		return err
	}
	return h.res.ServeAsset(c.Response(), req, ref, p, version, vv.Assets[0].Name)
}

// yank sets a version of the repository Unlisted (yanked) or Published.
func (h *handler) yank(c echo.Context, crate, version string, yank bool) error {
	if !validLookupName(crate) {
		return formats.RefusedName(crate, maxLookupName, fmt.Errorf("cargo: %.64q is not a crate name", crate))
	}
	ref := formats.RepoFrom(c)
	err := h.res.UpdateVersion(c.Request().Context(), ref, pkg(crate), version, func(v *formats.Version) error {
		switch v.Status {
		case formats.StatusPublished, formats.StatusUnlisted:
		default:
			return fmt.Errorf("%w: cargo: version %s of %s is %s: only published versions can be yanked or unyanked", formats.ErrConflict, version, crate, v.Status)
		}
		if yank {
			v.Status = formats.StatusUnlisted
		} else {
			v.Status = formats.StatusPublished
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

// owners lists who published the crate's versions held in the walk.
func (h *handler) owners(c echo.Context, crate string) error {
	if !validLookupName(crate) {
		return formats.RefusedName(crate, maxLookupName, fmt.Errorf("cargo: %.64q is not a crate name", crate))
	}
	ref := formats.RepoFrom(c)
	ctx := withSpelling(c.Request().Context(), crate)
	v, err := h.res.View(ctx, ref, pkg(crate))
	if err != nil {
		return err
	}
	type user struct {
		ID    int     `json:"id"`
		Login string  `json:"login"`
		Name  *string `json:"name"`
	}
	var logins []string
	for _, vv := range v.Versions {
		if m, ok := decodeMeta(vv.Meta); ok && m.Publisher != "" && !slices.Contains(logins, m.Publisher) {
			logins = append(logins, m.Publisher)
		}
	}
	slices.Sort(logins)
	users := make([]user, 0, len(logins))
	for i, l := range logins {
		users = append(users, user{ID: i + 1, Login: l})
	}
	return c.JSON(http.StatusOK, map[string]any{"users": users})
}

// me is where `cargo login` sends people for a token.
func (h *handler) me(c echo.Context) error {
	ref := formats.RepoFrom(c)
	msg := "Stockpile issues tokens through its control plane, as CodeArtifact does:\n\n" +
		"  aws codeartifact get-authorization-token --domain " + ref.Domain + " --endpoint-url <stockpile> --query authorizationToken --output text\n\n" +
		"then give the token to cargo, for example with CARGO_REGISTRIES_<NAME>_TOKEN and\n" +
		"credential-provider = [\"cargo:token\"] for the registry whose index is\n\n" +
		"  sparse+" + ref.Base + "/\n"
	return c.String(http.StatusOK, msg)
}
