package cargo

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// searchResult is cargo search's answer shape.
type searchResult struct {
	Crates []searchCrate `json:"crates"`
	Meta   struct {
		Total int `json:"total"`
	} `json:"meta"`
}

type searchCrate struct {
	Name        string  `json:"name"`
	MaxVersion  string  `json:"max_version"`
	Description *string `json:"description"`
}

// search answers cargo search over the crates the repositories of the walk
// hold (external connections are not searched). Names match when the query,
// compared the way crate names are, is part of them; an exact match comes
// first, then names in order. per_page defaults to 10 and is at most 100;
// page (from 1) is honoured too.
func (h *handler) search(c echo.Context) error {
	ref := formats.RepoFrom(c)
	ctx := c.Request().Context()
	perPage, err := intParam(c, "per_page", 10)
	if err != nil {
		return err
	}
	perPage = min(max(perPage, 1), DefaultSearchMax)
	page, err := intParam(c, "page", 1)
	if err != nil {
		return err
	}
	page = max(page, 1)
	q := canonical(strings.TrimSpace(c.QueryParam("q")))

	pkgs, err := h.res.Packages(ctx, ref, "cargo")
	if err != nil {
		return err
	}
	var matches []formats.Package
	for _, p := range pkgs {
		if strings.Contains(p.Name, q) {
			matches = append(matches, p)
		}
	}
	slices.SortStableFunc(matches, func(a, b formats.Package) int {
		switch {
		case a.Name == q && b.Name != q:
			return -1
		case b.Name == q && a.Name != q:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := searchResult{Crates: []searchCrate{}}
	out.Meta.Total = len(matches)
	start := (page - 1) * perPage
	if start < len(matches) {
		for _, p := range matches[start:min(start+perPage, len(matches))] {
			v, err := h.res.View(ctx, ref, p)
			if err != nil {
				continue
			}
			if sc, ok := summarize(v); ok {
				out.Crates = append(out.Crates, sc)
			}
		}
	}
	return c.JSON(http.StatusOK, out)
}

// summarize picks the highest version clients are offered (a yanked one
// only when every version is yanked), with its spelling and description.
func summarize(v *formats.View) (searchCrate, bool) {
	var best, bestYanked string
	for ver, vv := range v.Versions {
		switch vv.Status {
		case formats.StatusPublished:
			if best == "" || compareVersions(ver, best) > 0 {
				best = ver
			}
		case formats.StatusUnlisted:
			if bestYanked == "" || compareVersions(ver, bestYanked) > 0 {
				bestYanked = ver
			}
		}
	}
	if best == "" {
		best = bestYanked
	}
	if best == "" {
		return searchCrate{}, false
	}
	m, ok := decodeMeta(v.Versions[best].Meta)
	if !ok {
		return searchCrate{}, false
	}
	sc := searchCrate{Name: m.Name, MaxVersion: best}
	if m.Description != "" {
		d := m.Description
		sc.Description = &d
	}
	return sc, true
}

func intParam(c echo.Context, name string, def int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: cargo: %s=%q is not a number", formats.ErrInvalid, name, s)
	}
	return n, nil
}
