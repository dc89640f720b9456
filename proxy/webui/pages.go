package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// actionRead is what seeing a repository and its packages needs: the same
// permission the data plane asks of a client that reads them.
const actionRead = "codeartifact:ReadFromRepository"

// pageSize is how many packages a list page shows.
const pageSize = 50

// ask is why a page asks whether the visitor may do something.
type ask int

const (
	// question: what to list or offer. Asked quietly: a "no" is neither
	// an audit line nor a counted denial, since nobody attempted anything.
	question ask = iota
	// visit: opening a page or a confirmation; a refusal is audited.
	visit
	// act: taking an action; audited whether allowed or refused.
	act
)

// attempt is visit, or act when write is true.
func attempt(write bool) ask {
	if write {
		return act
	}
	return visit
}

// may reports whether the visitor may perform action on t. Open mode allows
// everything; an anonymous visitor (anonymous_read) may only read; a signed-in
// visitor is decided by the authorizer, within the domain of its token.
func (h *Handler) may(c echo.Context, action string, t access.Target, a ask) bool {
	v := visitorOf(c)
	switch {
	case v.Open:
		return true
	case v.ID == nil:
		return h.o.AnonymousRead && action == actionRead
	case t.Domain != "" && t.Domain != v.ID.Domain:
		return false
	case a == question:
		return h.o.Authorizer.Allowed(v.ID.Principal, action, t)
	}
	return h.o.Authorizer.Authorize(c.Request().Context(), v.ID.Principal, action, t, a == act) == nil
}

func (h *Handler) mayRead(c echo.Context, domain, repo string, a ask) bool {
	return h.may(c, actionRead, access.Target{Domain: domain, Repository: repo, Resource: h.o.ARNs.Repository(domain, repo)}, a)
}

// readable lists the repositories of a domain the visitor may read.
func (h *Handler) readable(c echo.Context, domain string) ([]model.Repository, error) {
	v := visitorOf(c)
	if v.ID != nil && v.ID.Domain != domain {
		return nil, nil
	}
	repos, err := h.o.Catalog.Repositories(domain)
	if err != nil {
		return nil, err
	}
	out := repos[:0:0]
	for _, r := range repos {
		if h.mayRead(c, domain, r.Name, question) {
			out = append(out, r)
		}
	}
	return out, nil
}

type domainRow struct {
	Name         string
	Repositories int
}

func (h *Handler) domainsPage(c echo.Context) error {
	var rows []domainRow
	for _, d := range h.o.Catalog.Domains() {
		repos, err := h.readable(c, d.Name)
		if err != nil {
			return err
		}
		if len(repos) > 0 || (visitorOf(c).Open && d.RepositoryCount == 0) {
			rows = append(rows, domainRow{Name: d.Name, Repositories: len(repos)})
		}
	}
	return h.render(c, http.StatusOK, "domains", "Domains", struct {
		Rows []domainRow
		Ops  bool
	}{rows, h.o.Metrics != nil && h.mayOps(c, question)})
}

// repoRow is a repository as the domain page lists it.
type repoRow struct {
	Repo      model.Repository
	Upstreams []string
	Formats   []string
	Packages  int
	Versions  int
	// Bytes is the sum of the sizes of the assets the repository's
	// versions refer to (domain index).
	Bytes int64
}

func (h *Handler) domainPage(c echo.Context) error {
	domain := c.Param("domain")
	repos, err := h.readable(c, domain)
	if err != nil || len(repos) == 0 {
		return h.notFound(c, err)
	}
	ctx := c.Request().Context()
	rows := make([]repoRow, 0, len(repos))
	for _, r := range repos {
		row, err := h.summarize(ctx, r)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	return h.render(c, http.StatusOK, "domain", domain, struct {
		Domain string
		Rows   []repoRow
	}{domain, rows}, crumb{domain, ""})
}

// summarize counts a repository's packages and versions and the formats it
// holds, from its index.
func (h *Handler) summarize(ctx context.Context, r model.Repository) (repoRow, error) {
	row := repoRow{Repo: r, Upstreams: h.o.Catalog.UpstreamNames(r)}
	ix, err := h.index(ctx, r)
	if err != nil {
		return row, err
	}
	row.Packages, row.Versions, row.Formats = len(ix.entries), ix.versions, ix.formats
	dix, err := h.domainIndex(ctx, r.Domain)
	if err != nil {
		return row, err
	}
	row.Bytes = dix.repoBytes[r.ID]
	return row, nil
}

// notFound answers 404 for a missing or unreadable resource: the two look
// the same, so a page does not tell what exists to someone who may not see it.
func (h *Handler) notFound(c echo.Context, err error) error {
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return err
	}
	return h.refuse(c, http.StatusNotFound, "There is nothing here, or you may not see it.")
}

// repository returns the repository the path names when the visitor may read it.
func (h *Handler) repository(c echo.Context) (model.Repository, bool, error) {
	domain, name := c.Param("domain"), c.Param("repo")
	if !h.mayRead(c, domain, name, visit) {
		return model.Repository{}, false, nil
	}
	r, err := h.o.Catalog.Repository(domain, name)
	if errors.Is(err, model.ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

// listQuery is a package list's search, filters and page.
type listQuery struct {
	Q      string // name (or namespace/name) to look for
	Match  string // "prefix" or "substring"
	Format string
	Origin string // "", "internal", "external" or "idle" (cached, never requested again)
	Page   int    // from 0
}

func parseListQuery(c echo.Context) listQuery {
	q := listQuery{Q: strings.TrimSpace(c.QueryParam("q")), Match: c.QueryParam("match"), Format: c.QueryParam("format"), Origin: c.QueryParam("origin")}
	if q.Match != "substring" {
		q.Match = "prefix"
	}
	if q.Origin != "internal" && q.Origin != "external" && q.Origin != "idle" {
		q.Origin = ""
	}
	q.Page, _ = strconv.Atoi(c.QueryParam("page"))
	q.Page = max(q.Page, 0)
	return q
}

func (q listQuery) values(page int) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "format": q.Format, "origin": q.Origin} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Match == "substring" {
		v.Set("match", q.Match)
	}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	return v
}

// matches reports whether a package passes the query's filters. needle is
// the lower-case search.
func (q listQuery) matches(e *entry, needle string) bool {
	if q.Format != "" && e.pkg.Format != q.Format {
		return false
	}
	if q.Origin == "internal" && !e.internal || q.Origin == "external" && e.internal || q.Origin == "idle" && !e.idle {
		return false
	}
	if needle == "" {
		return true
	}
	if q.Match == "substring" {
		return strings.Contains(e.lowerName, needle) || strings.Contains(e.lowerAll, needle)
	}
	return strings.HasPrefix(e.lowerName, needle) || strings.HasPrefix(e.lowerAll, needle)
}

// packageRow is a package as a list shows it.
type packageRow struct {
	Display, Format, Namespace, Name string
	Repository                       string
	Internal, Idle                   bool
	Href                             string
}

// listResult is one page of a package list.
type listResult struct {
	Rows       []packageRow
	Total      int
	First      int // 1-based index of the first row
	Prev, Next string
}

// list filters the packages of repos (from their indexes, repository by
// repository) and cuts one page; base is the list page's path.
func (h *Handler) list(ctx context.Context, repos []model.Repository, base string, q listQuery) (listResult, error) {
	var res listResult
	start := q.Page * pageSize
	needle := strings.ToLower(q.Q)
	for _, r := range repos {
		ix, err := h.index(ctx, r)
		if err != nil {
			return listResult{}, err
		}
		repoBase := Prefix + "/d/" + url.PathEscape(r.Domain) + "/r/" + url.PathEscape(r.Name)
		for i := range ix.entries {
			e := &ix.entries[i]
			if !q.matches(e, needle) {
				continue
			}
			if res.Total >= start && res.Total < start+pageSize {
				res.Rows = append(res.Rows, packageRow{Display: e.display, Format: e.pkg.Format, Namespace: e.pkg.Namespace,
					Name: e.pkg.Name, Repository: r.Name, Internal: e.internal, Idle: e.idle, Href: repoBase + "/package?" + packageQuery(e.pkg, "")})
			}
			res.Total++
		}
	}
	res.First = start + 1
	if q.Page > 0 {
		res.Prev = base + "?" + q.values(q.Page-1).Encode()
	}
	if start+pageSize < res.Total {
		res.Next = base + "?" + q.values(q.Page+1).Encode()
	}
	return res, nil
}

// formatNames lists the formats served, sorted.
func (h *Handler) formatNames() []string {
	out := make([]string, 0, len(h.o.Formats))
	for _, f := range h.o.Formats {
		out = append(out, f.Name())
	}
	sort.Strings(out)
	return out
}

// domainPackagesPage lists the packages of every repository of the domain
// the visitor may read, repository by repository.
func (h *Handler) domainPackagesPage(c echo.Context) error {
	domain := c.Param("domain")
	repos, err := h.readable(c, domain)
	if err != nil || len(repos) == 0 {
		return h.notFound(c, err)
	}
	q := parseListQuery(c)
	base := Prefix + "/d/" + url.PathEscape(domain) + "/packages"
	res, err := h.list(c.Request().Context(), repos, base, q)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "packages", "Packages · "+domain, struct {
		Domain   string
		Query    listQuery
		List     listResult
		Formats  []string
		ShowRepo bool
	}{domain, q, res, h.formatNames(), true}, crumb{domain, Prefix + "/d/" + url.PathEscape(domain)}, crumb{"packages", ""})
}

func packageQuery(p formats.Package, version string) string {
	v := url.Values{"format": {p.Format}, "name": {p.Name}}
	if p.Namespace != "" {
		v.Set("namespace", p.Namespace)
	}
	if version != "" {
		v.Set("version", version)
	}
	return v.Encode()
}

// display spells a package's name as its format does.
func (h *Handler) display(p formats.Package) string {
	for _, f := range h.o.Formats {
		if d, ok := f.(formats.Displayer); ok && f.Name() == p.Format {
			return d.DisplayName(p)
		}
	}
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + ":" + p.Name
}

// endpoint is a repository's URL for one format.
type endpoint struct{ Format, URL string }

func (h *Handler) endpoints(req *http.Request, r model.Repository) []endpoint {
	out := make([]endpoint, 0, len(h.o.Formats))
	for _, f := range h.o.Formats {
		out = append(out, endpoint{Format: f.Name(), URL: h.repoURL(req, r, f.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Format < out[j].Format })
	return out
}

// repoURL is a repository's endpoint for one format, with a trailing slash.
func (h *Handler) repoURL(req *http.Request, r model.Repository, format string) string {
	return h.o.BaseURL(req) + "/" + r.Domain + "/" + format + "/" + r.Name + "/"
}

func (h *Handler) repositoryPage(c echo.Context) error {
	r, ok, err := h.repository(c)
	if err != nil || !ok {
		return h.notFound(c, err)
	}
	ctx := c.Request().Context()
	sum, err := h.summarize(ctx, r)
	if err != nil {
		return err
	}
	q := parseListQuery(c)
	res, err := h.list(ctx, []model.Repository{r}, Prefix+"/d/"+url.PathEscape(r.Domain)+"/r/"+url.PathEscape(r.Name), q)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "repository", r.Name+" · "+r.Domain, struct {
		Summary   repoRow
		Graph     graph
		Endpoints []endpoint
		Query     listQuery
		List      listResult
		Formats   []string
		Settings  bool
		ShowRepo  bool
	}{sum, h.graph(r), h.endpoints(c.Request(), r), q, res, h.formatNames(), h.mayOnRepo(c, actionUpdateRepo, r.Domain, r.Name, question), false},
		crumb{r.Domain, Prefix + "/d/" + url.PathEscape(r.Domain)}, crumb{r.Name, ""})
}
