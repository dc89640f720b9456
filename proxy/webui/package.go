package webui

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// versionRow is a version as the package page lists it.
type versionRow struct {
	Rec      *resolver.VersionRecord
	Origin   string // "published here" or "from CONNECTION"
	Href     string
	Selected bool
}

type packageData struct {
	Repo      model.Repository
	Display   string
	Package   formats.Package
	Versions  []versionRow
	Selected  *resolver.VersionRecord
	Desc      *formats.Description
	Readme    template.HTML
	Snippets  []snippet
	Endpoint  string
	NeedToken bool
	Actions   actionForms
	Done      string // the action just taken, for the notice
	// Refresh offers "Refresh now" (the repository reaches an external
	// connection and the visitor may refresh).
	Refresh bool
	// Seen and Stale are what a refresh just found.
	Seen  string
	Stale bool
	// Dependents are the packages of the domain (in repositories the
	// visitor may read) whose newest version depends on this one;
	// DependentsKnown is false for a format whose records do not hold
	// dependencies.
	Dependents      []dependentRow
	DependentsTotal int
	DependentsKnown bool
}

func (h *Handler) packagePage(c echo.Context) error {
	r, ok, err := h.repository(c)
	if err != nil || !ok {
		return h.notFound(c, err)
	}
	p := h.normalize(formats.Package{Format: c.QueryParam("format"), Namespace: c.QueryParam("namespace"), Name: c.QueryParam("name")})
	if p.Format == "" || p.Name == "" || resolver.CheckNames(r.Domain, p, "", "") != nil {
		return h.notFound(c, nil)
	}
	ctx := c.Request().Context()
	vers, err := h.o.Contents.VersionRecords(ctx, r.Domain, r.ID, p)
	if err != nil {
		return err
	}
	if len(vers) == 0 {
		return h.notFound(c, nil)
	}
	sort.SliceStable(vers, func(i, j int) bool {
		if !vers[i].Published.Equal(vers[j].Published) {
			return vers[i].Published.After(vers[j].Published)
		}
		return vers[i].Version.Version > vers[j].Version.Version
	})
	sel := pickVersion(vers, c.QueryParam("version"))
	d := packageData{Repo: r, Display: h.display(p), Package: p, Selected: sel,
		Endpoint: h.repoURL(c.Request(), r, p.Format), NeedToken: !visitorOf(c).Open && !h.o.AnonymousRead}
	base := Prefix + "/d/" + url.PathEscape(r.Domain) + "/r/" + url.PathEscape(r.Name) + "/package?"
	for _, v := range vers {
		o := "published here"
		switch {
		case v.Origin.Connection != "":
			o = "from " + v.Origin.Connection
		case v.Origin.Type == resolver.OriginInternal && v.Origin.Repository != "" && v.Origin.Repository != r.Name:
			o = "published to " + v.Origin.Repository
		case v.Origin.Type == "":
			o = "unknown"
		}
		d.Versions = append(d.Versions, versionRow{Rec: v, Origin: o, Href: base + packageQuery(p, v.Version.Version), Selected: v == sel})
	}
	d.Desc = h.describe(ctx, r, p, sel)
	if d.Readme, err = h.renderReadme(d.Desc.Readme); err != nil {
		return err
	}
	d.Actions = h.actionForms(c, r, p, sel)
	if o, ok := ops[c.QueryParam("done")]; ok {
		d.Done = o.Name
		d.Seen, d.Stale = c.QueryParam("seen"), c.QueryParam("stale") != ""
	}
	d.Refresh = h.o.Refresher != nil && h.reachesExternal(r) && h.mayRefresh(c, r, question)
	if err := h.fillDependents(c, &d); err != nil {
		return err
	}
	d.Snippets = snippets(p, d.Display, sel.Version.Version, d.Endpoint)
	return h.render(c, http.StatusOK, "package", d.Display+" · "+r.Name, d,
		crumb{r.Domain, Prefix + "/d/" + url.PathEscape(r.Domain)},
		crumb{r.Name, Prefix + "/d/" + url.PathEscape(r.Domain) + "/r/" + url.PathEscape(r.Name)},
		crumb{d.Display, ""})
}

// fillDependents lists the package's dependents inside the domain.
func (h *Handler) fillDependents(c echo.Context, d *packageData) error {
	if h.describer(d.Package.Format) == nil {
		return nil
	}
	repos, err := h.readable(c, d.Repo.Domain)
	if err != nil {
		return err
	}
	readable := make(map[string]string, len(repos))
	for _, r := range repos {
		readable[r.ID] = r.Name
	}
	d.DependentsKnown = true
	d.Dependents, d.DependentsTotal, err = h.dependentsOf(c.Request().Context(), readable, d.Repo.Domain, d.Package)
	return err
}

// reachesExternal reports whether r's walk reaches an external connection.
func (h *Handler) reachesExternal(r model.Repository) bool {
	for _, n := range h.graph(r).Nodes {
		if n.Kind == "external" {
			return true
		}
	}
	return false
}

// pickVersion returns the version asked for, else the newest Published one,
// else the newest. vers is sorted newest first and not empty.
func pickVersion(vers []*resolver.VersionRecord, want string) *resolver.VersionRecord {
	for _, v := range vers {
		if v.Version.Version == want {
			return v
		}
	}
	for _, v := range vers {
		if v.Status == formats.StatusPublished {
			return v
		}
	}
	return vers[0]
}

// normalize puts a package name in its format's canonical form.
func (h *Handler) normalize(p formats.Package) formats.Package {
	for _, f := range h.o.Formats {
		if n, ok := f.(formats.Normalizer); ok && f.Name() == p.Format {
			return n.Normalize(p)
		}
	}
	return p
}

// describe reads what a version's manifest says (summary, README,
// dependencies), as the control plane's DescribePackageVersion does: through
// the format's Describer, else from the common fields of its metadata. A
// manifest that cannot be read leaves the description empty rather than
// failing the page.
func (h *Handler) describe(ctx context.Context, r model.Repository, p formats.Package, v *resolver.VersionRecord) *formats.Description {
	for _, f := range h.o.Formats {
		d, ok := f.(formats.Describer)
		if !ok || f.Name() != p.Format {
			continue
		}
		ref := formats.RepoRef{Domain: r.Domain, Repository: r.Name}
		open := func(asset string) (io.ReadCloser, error) {
			return h.o.Contents.Open(ctx, ref, p, v.Version.Version, asset)
		}
		desc, err := d.Describe(ctx, &v.Version, open)
		if err != nil {
			h.o.Log.Warn("web interface: cannot describe version", "package", p.Name, "version", v.Version.Version, "error", err.Error())
			return &formats.Description{}
		}
		return desc
	}
	var meta struct {
		Description, Summary, Homepage, Readme string
	}
	_ = json.Unmarshal(v.Meta, &meta)
	s := meta.Summary
	if s == "" {
		s = meta.Description
	}
	return &formats.Description{Summary: s, HomePage: meta.Homepage, Readme: meta.Readme}
}
