package nuget

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Search bounds.
const (
	defaultTake   = 20
	maxTake       = 1000
	maxQueryText  = 256
	maxQueryTerms = 16
)

// searchParams are the query parameters search and autocomplete share.
type searchParams struct {
	skip, take  int
	prerelease  bool
	semver2     bool
	packageType string
}

func parseSearchParams(q url.Values) (searchParams, error) {
	sp := searchParams{take: defaultTake}
	if s := q.Get("skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return sp, invalid("skip must be a number, 0 or more")
		}
		sp.skip = n
	}
	if s := q.Get("take"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return sp, invalid("take must be a number, 0 or more")
		}
		sp.take = min(n, maxTake)
	}
	sp.prerelease = strings.EqualFold(q.Get("prerelease"), "true")
	if lv := q.Get("semVerLevel"); lv != "" {
		v, err := parseVersion(lv)
		sp.semver2 = err == nil && v.nums[0] >= 2
	}
	sp.packageType = strings.TrimSpace(q.Get("packageType"))
	return sp, nil
}

// offered returns the listed versions a search client asked for.
func (sp searchParams) offered(its []*item) []*item {
	var out []*item
	for _, it := range its {
		if it.listed() && (sp.prerelease || !it.v.Prerelease()) && (sp.semver2 || !it.semver2) {
			out = append(out, it)
		}
	}
	return out
}

func (sp searchParams) hive() hive {
	if sp.semver2 {
		return hiveSemVer2
	}
	return hiveSemVer1
}

// term is one word of a query, with its field when it has one
// ("id:contoso", "tags:json", "packageid:Contoso.Widgets").
type term struct{ field, value string }

func parseQuery(s string) ([]term, error) {
	if len(s) > maxQueryText {
		return nil, invalid("the query is longer than %d characters", maxQueryText)
	}
	var out []term
	for _, w := range strings.Fields(strings.ToLower(strings.ReplaceAll(s, `"`, " "))) {
		t := term{value: w}
		if f, v, ok := strings.Cut(w, ":"); ok && v != "" {
			t = term{field: f, value: v}
		}
		out = append(out, t)
	}
	if len(out) > maxQueryTerms {
		return nil, invalid("the query has more than %d terms", maxQueryTerms)
	}
	return out, nil
}

// matches reports whether every term matches the package: the id, title,
// tags, authors, summary or description contain it; a field limits where
// it is looked for, packageid asks for the exact id.
func matches(terms []term, e entry, lowerID string) bool {
	fields := map[string]string{
		"id":          lowerID,
		"title":       strings.ToLower(e.str("title")),
		"tags":        strings.ToLower(strings.Join(e.strings("tags"), " ")),
		"authors":     strings.ToLower(strings.Join(e.strings("authors"), " ")),
		"summary":     strings.ToLower(e.str("summary")),
		"description": strings.ToLower(e.str("description")),
	}
	for _, t := range terms {
		switch t.field {
		case "packageid":
			if t.value != lowerID {
				return false
			}
			continue
		case "author":
			t.field = "authors"
		case "tag":
			t.field = "tags"
		}
		if v, ok := fields[t.field]; ok {
			if !strings.Contains(v, t.value) {
				return false
			}
			continue
		}
		found := false
		for _, v := range fields {
			if strings.Contains(v, t.value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// packageTypes reads the package types of an entry; none means Dependency.
func packageTypes(e entry) []map[string]string {
	var pts []map[string]string
	if raw, ok := e["packageTypes"]; ok {
		var list []struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &list) == nil {
			for _, pt := range list {
				if pt.Name != "" {
					pts = append(pts, map[string]string{"name": pt.Name})
				}
			}
		}
	}
	if len(pts) == 0 {
		pts = []map[string]string{{"name": "Dependency"}}
	}
	return pts
}

type searchVersion struct {
	Version   string `json:"version"`
	Downloads int64  `json:"downloads"`
	ID        string `json:"@id"`
}

type searchResult struct {
	ID             string              `json:"@id"`
	Type           string              `json:"@type"`
	Registration   string              `json:"registration"`
	PackageID      string              `json:"id"`
	Version        string              `json:"version"`
	Description    string              `json:"description"`
	Summary        string              `json:"summary"`
	Title          string              `json:"title"`
	IconURL        string              `json:"iconUrl,omitempty"`
	LicenseURL     string              `json:"licenseUrl,omitempty"`
	ProjectURL     string              `json:"projectUrl,omitempty"`
	Tags           []string            `json:"tags"`
	Authors        []string            `json:"authors"`
	Owners         []string            `json:"owners"`
	TotalDownloads int64               `json:"totalDownloads"`
	Verified       bool                `json:"verified"`
	PackageTypes   []map[string]string `json:"packageTypes"`
	Versions       []searchVersion     `json:"versions"`
}

// candidate is a package that passed the filters, with what it offers.
type candidate struct {
	p   formats.Package
	its []*item
}

// candidates lists the packages the repository holds or has cached whose
// offered versions are not empty and accept keep.
func (h *handler) candidates(c echo.Context, sp searchParams, keep func(formats.Package, []*item) bool) ([]candidate, error) {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	pkgs, err := h.res.Packages(ctx, ref, formatName)
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, p := range pkgs {
		v, err := h.res.View(ctx, ref, p)
		if errors.Is(err, formats.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		its := sp.offered(items(v))
		if len(its) == 0 || !keep(p, its) {
			continue
		}
		out = append(out, candidate{p: p, its: its})
	}
	return out, nil
}

// search serves the SearchQueryService over the packages the repository
// and its upstream repositories hold (local and cached; external
// connections are not searched, as CodeArtifact does not search them),
// listed versions only, pre-releases and SemVer 2.0 versions when asked.
// An exact id match comes first, the others by id.
func (h *handler) search(c echo.Context) error {
	q := c.Request().URL.Query()
	sp, err := parseSearchParams(q)
	if err != nil {
		return err
	}
	terms, err := parseQuery(q.Get("q"))
	if err != nil {
		return err
	}
	exact := ""
	if len(terms) == 1 && terms[0].field == "" {
		exact = terms[0].value
	}
	cands, err := h.candidates(c, sp, func(p formats.Package, its []*item) bool {
		latest := its[len(its)-1]
		if !matches(terms, latest.e, p.Name) {
			return false
		}
		if sp.packageType == "" {
			return true
		}
		for _, pt := range packageTypes(latest.e) {
			if strings.EqualFold(pt["name"], sp.packageType) {
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	for i, cd := range cands {
		if cd.p.Name == exact && i > 0 {
			copy(cands[1:i+1], cands[:i])
			cands[0] = cd
			break
		}
	}
	u := urls{formats.RepoFrom(c).Base}
	hv := sp.hive()
	data := []searchResult{}
	for i := sp.skip; i < len(cands) && len(data) < sp.take; i++ {
		data = append(data, u.searchResult(hv, cands[i], sp.semver2))
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, map[string]any{"totalHits": len(cands), "data": data})
}

func (u urls) searchResult(hv hive, cd candidate, semver2 bool) searchResult {
	latest := cd.its[len(cd.its)-1]
	e := latest.e
	show := func(it *item) string {
		if semver2 {
			return it.v.Full()
		}
		return it.v.String()
	}
	r := searchResult{
		ID: u.regIndex(hv, cd.p.Name), Type: "Package", Registration: u.regIndex(hv, cd.p.Name),
		PackageID: displayID(cd.its, cd.p.Name), Version: show(latest),
		Description: e.str("description"), Summary: e.str("summary"), Title: e.str("title"),
		IconURL: e.str("iconUrl"), LicenseURL: e.str("licenseUrl"), ProjectURL: e.str("projectUrl"),
		Tags: nonNil(e.strings("tags")), Authors: nonNil(splitList(e.strings("authors"))), Owners: nonNil(splitList(e.strings("owners"))),
		PackageTypes: packageTypes(e),
	}
	for _, it := range cd.its {
		r.Versions = append(r.Versions, searchVersion{Version: show(it), ID: u.regLeaf(hv, cd.p.Name, it.key)})
	}
	return r
}

// splitList splits comma-separated names (a nuspec's authors).
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// autocomplete serves the SearchAutocompleteService: with id, the listed
// versions of that package; otherwise the ids that contain q (those that
// start with it first).
func (h *handler) autocomplete(c echo.Context) error {
	q := c.Request().URL.Query()
	sp, err := parseSearchParams(q)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	if id := q.Get("id"); id != "" {
		p, err := packageOf(id)
		if err != nil {
			return err
		}
		v, err := h.res.View(c.Request().Context(), formats.RepoFrom(c), p)
		if err != nil && !errors.Is(err, formats.ErrNotFound) {
			return err
		}
		data := []string{}
		if v != nil {
			for _, it := range sp.offered(items(v)) {
				if sp.semver2 {
					data = append(data, it.v.Full())
				} else {
					data = append(data, it.v.String())
				}
			}
		}
		return c.JSON(http.StatusOK, map[string]any{"totalHits": len(data), "data": data})
	}
	text := strings.ToLower(strings.TrimSpace(q.Get("q")))
	if len(text) > maxQueryText {
		return invalid("the query is longer than %d characters", maxQueryText)
	}
	cands, err := h.candidates(c, sp, func(p formats.Package, _ []*item) bool { return strings.Contains(p.Name, text) })
	if err != nil {
		return err
	}
	var first, rest []string
	for _, cd := range cands {
		id := displayID(cd.its, cd.p.Name)
		if strings.HasPrefix(cd.p.Name, text) {
			first = append(first, id)
		} else {
			rest = append(rest, id)
		}
	}
	all := append(first, rest...)
	data := []string{}
	for i := sp.skip; i < len(all) && len(data) < sp.take; i++ {
		data = append(data, all[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"totalHits": len(all), "data": data})
}
