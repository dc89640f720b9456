package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// Versions changes the version records of a repository, as the control
// plane's batch operations do; *resolver.Resolver implements it.
type Versions interface {
	VersionRecord(ctx context.Context, domain, repoID string, p formats.Package, version string) (*resolver.VersionRecord, error)
	PackageRecord(ctx context.Context, domain, repoID string, p formats.Package) (*resolver.PackageRecord, error)
	UpdateRecords(ctx context.Context, domain string, p formats.Package, fn func(w *resolver.Records) error) error
}

// op is an action on one version, with the control-plane operation that
// authorises it (the same action on the same package ARN as
// UpdatePackageVersionsStatus, DisposePackageVersions and
// DeletePackageVersions; CopyPackageVersions on the destination repository,
// as the control plane decides it, with ReadFromRepository on the source).
type op struct {
	Name    string // "status", "dispose", "delete", "copy"
	Action  string
	Verb    string // for the confirmation
	Warning string
}

var ops = map[string]op{
	"status":  {"status", "codeartifact:UpdatePackageVersionsStatus", "Change the status of", ""},
	"dispose": {"dispose", "codeartifact:DisposePackageVersions", "Dispose of", "Its files are deleted (once nothing else refers to them); the version stays listed as Disposed. This cannot be undone."},
	"delete":  {"delete", "codeartifact:DeletePackageVersions", "Delete", "The version and its files are removed from this repository. This cannot be undone."},
	"copy":    {"copy", "codeartifact:CopyPackageVersions", "Copy", ""},
	// refresh changes no record: it revalidates the upstream documents now,
	// which any client allowed to read the repository may already cause
	// (a version the cached metadata lacks is asked for again, once per
	// document within FreshWithin). So it needs the least that lets one
	// see the package: ReadFromRepository, and being signed in.
	"refresh": {"refresh", actionRead, "Refresh the upstream metadata of", "The external connections this repository reaches are asked now for the package's metadata; clients see new upstream versions at once."},
}

// Refresher revalidates a package's cached upstream metadata now and drops
// what was rendered from it; *resolver.Resolver implements it.
type Refresher interface {
	Refresh(ctx context.Context, ref formats.RepoRef, p formats.Package) (resolver.Refreshed, error)
}

// targetStatuses are what a status change may set, as in
// UpdatePackageVersionsStatus.
var targetStatuses = []formats.Status{formats.StatusPublished, formats.StatusUnlisted, formats.StatusArchived}

// errNotAllowed is an action refused by the rules of the operation (not by
// permissions).
var errNotAllowed = errors.New("not allowed")

// actionRequest is an action as a form names it.
type actionRequest struct {
	Repo    model.Repository
	Package formats.Package
	Display string
	Version string
	Op      op
	Status  formats.Status   // for "status"
	To      model.Repository // for "copy"
	Back    string           // the package page
}

// parseAction reads and authorises an action: the visitor must be allowed
// the operation's action on the package.
func (h *Handler) parseAction(c echo.Context, write bool) (*actionRequest, error) {
	r, ok, err := h.repository(c)
	if err != nil || !ok {
		return nil, h.notFound(c, err)
	}
	p := h.normalize(formats.Package{Format: c.FormValue("format"), Namespace: c.FormValue("namespace"), Name: c.FormValue("name")})
	o, known := ops[c.FormValue("op")]
	version := c.FormValue("version")
	if o.Name == "refresh" {
		version = "" // a package action
	}
	if !known || p.Format == "" || p.Name == "" || version == "" && o.Name != "refresh" || resolver.CheckNames(r.Domain, p, version, "") != nil {
		return nil, h.refuse(c, http.StatusBadRequest, "This action names no known operation, package or version.")
	}
	a := &actionRequest{Repo: r, Package: p, Display: h.display(p), Version: version, Op: o,
		Back: Prefix + "/d/" + url.PathEscape(r.Domain) + "/r/" + url.PathEscape(r.Name) + "/package?" + packageQuery(p, version)}
	if o.Name == "status" {
		a.Status = formats.Status(c.FormValue("status"))
		valid := false
		for _, s := range targetStatuses {
			valid = valid || s == a.Status
		}
		if !valid {
			return nil, h.refuse(c, http.StatusBadRequest, "The status must be Published, Unlisted or Archived.")
		}
	}
	if o.Name == "copy" {
		dst, err := h.o.Catalog.Repository(r.Domain, c.FormValue("to"))
		if err != nil || dst.ID == r.ID {
			return nil, h.refuse(c, http.StatusBadRequest, "Choose another repository of this domain to copy to.")
		}
		if !h.mayCopy(c, dst, attempt(write)) {
			return nil, h.refuse(c, http.StatusForbidden, "You may not copy versions to "+dst.Name+".")
		}
		a.To = dst
		return a, nil
	}
	if o.Name == "refresh" {
		if h.o.Refresher == nil || !h.mayRefresh(c, r, attempt(write)) {
			return nil, h.refuse(c, http.StatusForbidden, "You may not refresh this package's upstream metadata.")
		}
		return a, nil
	}
	if !h.mayAct(c, o, r, p, attempt(write)) {
		return nil, h.refuse(c, http.StatusForbidden, "You may not "+o.Name+" versions of this package.")
	}
	return a, nil
}

// mayAct reports whether the visitor may take o on p. An anonymous visitor
// may take none.
func (h *Handler) mayAct(c echo.Context, o op, r model.Repository, p formats.Package, a ask) bool {
	v := visitorOf(c)
	if !v.Open && v.ID == nil {
		return false
	}
	return h.may(c, o.Action, access.Target{Domain: r.Domain, Repository: r.Name,
		Resource: h.o.ARNs.Package(r.Domain, r.Name, p.Format, p.Namespace, p.Name)}, a)
}

// mayRefresh reports whether the visitor may refresh the upstream metadata
// of r's packages: signed in (or open mode) and allowed to read r.
func (h *Handler) mayRefresh(c echo.Context, r model.Repository, a ask) bool {
	v := visitorOf(c)
	if !v.Open && v.ID == nil {
		return false
	}
	return h.mayRead(c, r.Domain, r.Name, a)
}

// mayCopy reports whether the visitor may copy versions into dst (the
// source was authorised by the page: ReadFromRepository).
func (h *Handler) mayCopy(c echo.Context, dst model.Repository, a ask) bool {
	return h.mayOnRepo(c, ops["copy"].Action, dst.Domain, dst.Name, a)
}

// confirmPage asks before an action is taken (GET: changes nothing).
func (h *Handler) confirmPage(c echo.Context) error {
	a, err := h.parseAction(c, false)
	if a == nil {
		return err
	}
	return h.render(c, http.StatusOK, "confirm", "Confirm", a,
		crumb{a.Repo.Domain, Prefix + "/d/" + url.PathEscape(a.Repo.Domain)},
		crumb{a.Repo.Name, Prefix + "/d/" + url.PathEscape(a.Repo.Domain) + "/r/" + url.PathEscape(a.Repo.Name)},
		crumb{a.Display, a.Back})
}

// act takes a confirmed action (POST, with the CSRF token) and logs it.
func (h *Handler) act(c echo.Context) error {
	a, err := h.parseAction(c, true)
	if a == nil {
		return err
	}
	if a.Op.Name == "refresh" {
		return h.refresh(c, a)
	}
	res, err := h.apply(c.Request().Context(), a)
	if errors.Is(err, errNotAllowed) || errors.Is(err, model.ErrNotFound) {
		return h.refuse(c, http.StatusConflict, err.Error())
	}
	if err != nil {
		return err
	}
	h.o.Log.Info("web interface action", "principal", h.who(c), "operation", a.Op.Action, "domain", a.Repo.Domain, "repository", a.Repo.Name,
		"format", a.Package.Format, "namespace", a.Package.Namespace, "package", a.Package.Name, "version", a.Version, "result", res)
	back := a.Back
	if a.Op.Name == "delete" {
		back = Prefix + "/d/" + url.PathEscape(a.Repo.Domain) + "/r/" + url.PathEscape(a.Repo.Name) + "/package?" + packageQuery(a.Package, "")
	}
	return c.Redirect(http.StatusSeeOther, back+"&done="+a.Op.Name)
}

// refresh revalidates the package's upstream metadata now, logs it, and
// goes back to the package page with what it found.
func (h *Handler) refresh(c echo.Context, a *actionRequest) error {
	got, err := h.o.Refresher.Refresh(c.Request().Context(), formats.RepoRef{Domain: a.Repo.Domain, Repository: a.Repo.Name}, a.Package)
	if err != nil && !errors.Is(err, formats.ErrNotFound) {
		return err
	}
	h.o.Log.Info("web interface action", "principal", h.who(c), "operation", "refresh", "domain", a.Repo.Domain, "repository", a.Repo.Name,
		"format", a.Package.Format, "namespace", a.Package.Namespace, "package", a.Package.Name, "versions", got.Versions, "stale", got.Stale)
	back := a.Back + "&done=refresh&seen=" + strconv.Itoa(got.Versions)
	if got.Stale {
		back += "&stale=1"
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// who names the visitor in the log.
func (h *Handler) who(c echo.Context) string {
	if id := visitorOf(c).ID; id != nil {
		return id.Name
	}
	return "local"
}

// apply changes the version record under the package's lock, with the
// control plane's rules: a Disposed version's status cannot change.
func (h *Handler) apply(ctx context.Context, a *actionRequest) (string, error) {
	r, p := a.Repo, a.Package
	var done string
	err := h.o.Versions.UpdateRecords(ctx, r.Domain, p, func(w *resolver.Records) error {
		rec, err := h.o.Versions.VersionRecord(ctx, r.Domain, r.ID, p, a.Version)
		if err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("%w: version %s is not in repository %s", errNotAllowed, a.Version, r.Name)
		}
		switch a.Op.Name {
		case "status":
			if rec.Status == formats.StatusDisposed {
				return fmt.Errorf("%w: version %s is Disposed: its assets are gone", errNotAllowed, a.Version)
			}
			rec.Status = a.Status
			done = fmt.Sprintf("%s is now %s", a.Version, a.Status)
			return w.PutVersion(ctx, r.ID, rec)
		case "dispose":
			rec.Status = formats.StatusDisposed
			done = a.Version + " is now Disposed"
			return w.PutVersion(ctx, r.ID, rec)
		case "copy":
			done = a.Version + " was copied to " + a.To.Name
			return h.copyVersion(ctx, w, a, rec)
		default:
			done = a.Version + " was deleted"
			return w.DeleteVersion(ctx, r.ID, a.Version)
		}
	})
	if err != nil {
		return "", err
	}
	h.forget(r)
	if a.Op.Name == "copy" {
		h.forget(a.To)
	}
	if a.Op.Name == "dispose" && h.o.Collect != nil {
		h.o.Collect()
	}
	return done, nil
}

// copyVersion copies a version record (never bytes: blobs belong to the
// domain) into a.To, as CopyPackageVersions does without allowOverwrite,
// and moves the source's tags that point at it (npm's dist-tags).
func (h *Handler) copyVersion(ctx context.Context, w *resolver.Records, a *actionRequest, rec *resolver.VersionRecord) error {
	r, dst, p := a.Repo, a.To, a.Package
	cur, err := h.o.Versions.VersionRecord(ctx, r.Domain, dst.ID, p, a.Version)
	if err != nil {
		return err
	}
	if cur != nil {
		return fmt.Errorf("%w: version %s already exists in %s", errNotAllowed, a.Version, dst.Name)
	}
	cp := *rec
	if err := w.PutVersion(ctx, dst.ID, &cp); err != nil {
		return err
	}
	src, err := h.o.Versions.PackageRecord(ctx, r.Domain, r.ID, p)
	if err != nil || src == nil {
		return err
	}
	pkg, err := h.o.Versions.PackageRecord(ctx, r.Domain, dst.ID, p)
	if err != nil || pkg == nil {
		return err
	}
	changed := false
	for tag, v := range src.Tags {
		if v == a.Version {
			if pkg.Tags == nil {
				pkg.Tags = map[string]string{}
			}
			pkg.Tags[tag], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	return w.PutPackage(ctx, dst.ID, pkg)
}

// actionForms are the actions the package page offers for its version.
type actionForms struct {
	Status, Dispose, Delete bool
	Statuses                []formats.Status
	CopyTo                  []string // repositories the version may be copied to
}

func (h *Handler) actionForms(c echo.Context, r model.Repository, p formats.Package, rec *resolver.VersionRecord) actionForms {
	f := actionForms{Statuses: targetStatuses}
	if rec.Status != formats.StatusDisposed {
		f.Status = h.mayAct(c, ops["status"], r, p, question)
		f.Dispose = h.mayAct(c, ops["dispose"], r, p, question)
	}
	f.Delete = h.mayAct(c, ops["delete"], r, p, question)
	repos, _ := h.o.Catalog.Repositories(r.Domain)
	for _, d := range repos {
		if d.ID != r.ID && h.mayCopy(c, d, question) {
			f.CopyTo = append(f.CopyTo, d.Name)
		}
	}
	return f
}
