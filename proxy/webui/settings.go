package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// Editor changes repositories, with the model's validation (names,
// description length, upstream cycles, at most MaxUpstreams);
// *model.Registry implements it.
type Editor interface {
	CreateRepository(ctx context.Context, domain, name, description string, upstreams []string, tags []model.Tag) (model.Repository, error)
	UpdateRepository(ctx context.Context, domain, name string, description *string, upstreams *[]string) (model.Repository, error)
	AssociateExternalConnection(ctx context.Context, domain, name, conn string) (model.Repository, error)
}

// publicRepo is a public repository a repository can be connected to, as
// CodeArtifact's console offers them: the repository that holds its
// connection is named Store and created when first needed.
type publicRepo struct {
	Label, Connection, Store string
}

var publicRepos = []publicRepo{
	{"npm", "public:npmjs", "npm-store"},
	{"PyPI", "public:pypi", "pypi-store"},
	{"Maven Central", "public:maven-central", "maven-central-store"},
	{"Google Android", "public:maven-googleandroid", "google-android-store"},
	{"Gradle plugins", "public:maven-gradleplugins", "gradle-plugins-store"},
	{"CommonsWare", "public:maven-commonsware", "commonsware-store"},
	{"Clojars", "public:maven-clojars", "clojars-store"},
	{"NuGet Gallery", "public:nuget-org", "nuget-store"},
	{"RubyGems", "public:ruby-gems-org", "rubygems-store"},
	{"crates.io", "public:crates-io", "cargo-store"},
}

// Control-plane actions the settings page takes.
const (
	actionUpdateRepo = "codeartifact:UpdateRepository"
	actionCreateRepo = "codeartifact:CreateRepository"
	actionAssociate  = "codeartifact:AssociateExternalConnection"
)

func (h *Handler) mayOnRepo(c echo.Context, action, domain, repo string, a ask) bool {
	v := visitorOf(c)
	if !v.Open && v.ID == nil {
		return false
	}
	return h.may(c, action, access.Target{Domain: domain, Repository: repo, Resource: h.o.ARNs.Repository(domain, repo)}, a)
}

type settingsData struct {
	Repo      model.Repository
	Upstreams string // one name a line, in priority order
	Public    []publicRepo
	Error     string
	Done      string
}

func (h *Handler) settingsRepo(c echo.Context, write bool) (model.Repository, error, bool) {
	r, ok, err := h.repository(c)
	if err != nil || !ok {
		return r, h.notFound(c, err), false
	}
	if !h.mayOnRepo(c, actionUpdateRepo, r.Domain, r.Name, attempt(write)) {
		return r, h.refuse(c, http.StatusForbidden, "You may not change this repository (codeartifact:UpdateRepository)."), false
	}
	return r, nil, true
}

func (h *Handler) settingsPage(c echo.Context) error {
	r, err, ok := h.settingsRepo(c, false)
	if !ok {
		return err
	}
	d := settingsData{Repo: r, Upstreams: strings.Join(h.o.Catalog.UpstreamNames(r), "\n"), Public: publicRepos}
	switch c.QueryParam("done") {
	case "edit":
		d.Done = "The repository was updated."
	case "connect":
		d.Done = "The public repository was connected."
	}
	return h.renderSettings(c, http.StatusOK, d)
}

func (h *Handler) renderSettings(c echo.Context, status int, d settingsData) error {
	base := Prefix + "/d/" + url.PathEscape(d.Repo.Domain)
	return h.render(c, status, "settings", "Settings · "+d.Repo.Name, d,
		crumb{d.Repo.Domain, base}, crumb{d.Repo.Name, base + "/r/" + url.PathEscape(d.Repo.Name)}, crumb{"settings", ""})
}

// editRepository changes the description and the upstream list, as
// UpdateRepository does.
func (h *Handler) editRepository(c echo.Context) error {
	r, err, ok := h.settingsRepo(c, true)
	if !ok {
		return err
	}
	desc := c.FormValue("description")
	ups := []string{}
	for _, line := range strings.Split(c.FormValue("upstreams"), "\n") {
		if name := strings.TrimSpace(line); name != "" {
			ups = append(ups, name)
		}
	}
	_, err = h.o.Editor.UpdateRepository(c.Request().Context(), r.Domain, r.Name, &desc, &ups)
	if err != nil {
		return h.settingsError(c, r, err, desc, strings.Join(ups, "\n"))
	}
	h.logChange(c, actionUpdateRepo, r, "upstreams", strings.Join(ups, ","))
	return c.Redirect(http.StatusSeeOther, h.settingsURL(r)+"?done=edit")
}

// settingsError shows the page again with the model's refusal (a cycle, too
// many upstreams, an unknown repository, a description too long).
func (h *Handler) settingsError(c echo.Context, r model.Repository, err error, desc, ups string) error {
	var me *model.Error
	if !errors.As(err, &me) {
		return err
	}
	r.Description = desc
	return h.renderSettings(c, http.StatusBadRequest, settingsData{Repo: r, Upstreams: ups, Public: publicRepos, Error: me.Message})
}

func (h *Handler) settingsURL(r model.Repository) string {
	return Prefix + "/d/" + url.PathEscape(r.Domain) + "/r/" + url.PathEscape(r.Name) + "/settings"
}

func (h *Handler) logChange(c echo.Context, action string, r model.Repository, kv ...string) {
	who := "local"
	if id := visitorOf(c).ID; id != nil {
		who = id.Name
	}
	args := []any{"principal", who, "operation", action, "domain", r.Domain, "repository", r.Name}
	for i := 0; i+1 < len(kv); i += 2 {
		args = append(args, kv[i], kv[i+1])
	}
	h.o.Log.Info("web interface action", args...)
}

// connectPublic connects a repository to a public repository the way
// CodeArtifact's console does: the domain's store repository for it (say
// npm-store, with the external connection public:npmjs) is created when it
// does not exist yet, then added as the last upstream of the repository.
// Creating the store needs CreateRepository and AssociateExternalConnection
// on it; changing the upstreams needs UpdateRepository.
func (h *Handler) connectPublic(c echo.Context) error {
	r, err, ok := h.settingsRepo(c, true)
	if !ok {
		return err
	}
	i := slices.IndexFunc(publicRepos, func(p publicRepo) bool { return p.Connection == c.FormValue("connection") })
	if i < 0 {
		return h.refuse(c, http.StatusBadRequest, "Choose one of the public repositories offered.")
	}
	pub := publicRepos[i]
	ctx := c.Request().Context()
	store, err := h.o.Catalog.Repository(r.Domain, pub.Store)
	switch {
	case errors.Is(err, model.ErrNotFound):
		if !h.mayOnRepo(c, actionCreateRepo, r.Domain, pub.Store, act) || !h.mayOnRepo(c, actionAssociate, r.Domain, pub.Store, act) {
			return h.refuse(c, http.StatusForbidden, "You may not create "+pub.Store+" (codeartifact:CreateRepository and AssociateExternalConnection).")
		}
		if _, err := h.o.Editor.CreateRepository(ctx, r.Domain, pub.Store, "Provides "+pub.Label+" packages from its public repository.", nil, nil); err != nil {
			return h.settingsError(c, r, err, r.Description, strings.Join(h.o.Catalog.UpstreamNames(r), "\n"))
		}
		if _, err := h.o.Editor.AssociateExternalConnection(ctx, r.Domain, pub.Store, pub.Connection); err != nil {
			return err
		}
		h.logChange(c, actionCreateRepo, model.Repository{Domain: r.Domain, Name: pub.Store}, "externalConnection", pub.Connection)
	case err != nil:
		return err
	case store.ExternalConnection != pub.Connection:
		return h.settingsError(c, r, &model.Error{Kind: model.ErrConflict, Message: fmt.Sprintf("repository %s exists and is not connected to %s", pub.Store, pub.Connection)},
			r.Description, strings.Join(h.o.Catalog.UpstreamNames(r), "\n"))
	}
	ups := h.o.Catalog.UpstreamNames(r)
	if !slices.Contains(ups, pub.Store) {
		ups = append(ups, pub.Store)
		if _, err := h.o.Editor.UpdateRepository(ctx, r.Domain, r.Name, nil, &ups); err != nil {
			return h.settingsError(c, r, err, r.Description, strings.Join(ups, "\n"))
		}
		h.logChange(c, actionUpdateRepo, r, "upstreams", strings.Join(ups, ","))
	}
	return c.Redirect(http.StatusSeeOther, h.settingsURL(r)+"?done=connect")
}
