package controlplane

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// Error codes of failedVersions, as CodeArtifact names them.
const (
	codeAlreadyExists      = "ALREADY_EXISTS"
	codeMismatchedRevision = "MISMATCHED_REVISION"
	codeMismatchedStatus   = "MISMATCHED_STATUS"
	codeNotAllowed         = "NOT_ALLOWED"
	codeNotFound           = "NOT_FOUND"
	codeSkipped            = "SKIPPED"
)

type versionSuccess struct {
	Revision string `json:"revision,omitempty"`
	Status   string `json:"status"`
}

type versionFailure struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

type batchResult struct {
	SuccessfulVersions map[string]versionSuccess `json:"successfulVersions"`
	FailedVersions     map[string]versionFailure `json:"failedVersions"`
}

func newBatch() *batchResult {
	return &batchResult{SuccessfulVersions: map[string]versionSuccess{}, FailedVersions: map[string]versionFailure{}}
}

func (b *batchResult) fail(v, code, msg string) {
	b.FailedVersions[v] = versionFailure{ErrorCode: code, ErrorMessage: msg}
}

// batchBody is the body of the batch version operations.
type batchBody struct {
	Versions            []string          `json:"versions"`
	VersionRevisions    map[string]string `json:"versionRevisions"`
	ExpectedStatus      string            `json:"expectedStatus"`
	TargetStatus        string            `json:"targetStatus"`
	AllowOverwrite      *bool             `json:"allowOverwrite"`
	IncludeFromUpstream *bool             `json:"includeFromUpstream"`
}

// targets lists the versions a batch names: versions, plus the keys of
// versionRevisions, in order, without duplicates.
func (b *batchBody) targets() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range b.Versions {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for v := range b.VersionRevisions {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, validation("name at least one version in versions or versionRevisions")
	}
	if len(out) > 100 {
		return nil, validation("at most 100 versions can be named in one call")
	}
	return out, nil
}

var validStatuses = map[string]bool{"Published": true, "Unfinished": true, "Unlisted": true, "Archived": true, "Disposed": true, "Deleted": true}

// check applies the compare-and-swap guards to one stored version.
func (b *batchBody) check(v string, rec *resolver.VersionRecord) (code, msg string) {
	if rec == nil {
		return codeNotFound, "version " + v + " is not in the repository"
	}
	if want, ok := b.VersionRevisions[v]; ok && want != rec.Revision {
		return codeMismatchedRevision, "version " + v + " has revision " + rec.Revision
	}
	if b.ExpectedStatus != "" && string(rec.Status) != b.ExpectedStatus {
		return codeMismatchedStatus, "version " + v + " is " + string(rec.Status) + ", not " + b.ExpectedStatus
	}
	return "", ""
}

func (h *Handler) batchParams(c echo.Context) (model.Repository, formats.Package, *batchBody, []string, error) {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return r, p, nil, nil, err
	}
	var body batchBody
	if err := decodeBody(c, &body); err != nil {
		return r, p, nil, nil, err
	}
	if body.ExpectedStatus != "" && !validStatuses[body.ExpectedStatus] {
		return r, p, nil, nil, validation("expectedStatus %q is not a package version status", body.ExpectedStatus)
	}
	h.normalizeBody(p, &body)
	vs, err := body.targets()
	return r, p, &body, vs, err
}

// UpdatePackageVersionsStatus: POST /v1/package/versions/update_status.
// All or nothing: when one version fails, the others are SKIPPED.
func (h *Handler) updatePackageVersionsStatus(c echo.Context) error {
	r, p, body, vs, err := h.batchParams(c)
	if err != nil {
		return err
	}
	target := formats.Status(body.TargetStatus)
	switch target {
	case formats.StatusPublished, formats.StatusUnlisted, formats.StatusArchived:
	default:
		return validation("targetStatus must be Published, Unlisted or Archived")
	}
	ctx := c.Request().Context()
	res, err := h.guarded(ctx, r, p, body, vs, func(w *resolver.Records, recs map[string]*resolver.VersionRecord, res *batchResult) error {
		for _, v := range vs {
			if rec, ok := recs[v]; ok && rec.Status == formats.StatusDisposed {
				res.fail(v, codeNotAllowed, "version "+v+" is Disposed: its assets are gone")
				delete(recs, v)
			}
		}
		if len(res.FailedVersions) > 0 {
			for v := range recs {
				res.fail(v, codeSkipped, "skipped because another version of the call failed")
			}
			return nil
		}
		for _, v := range vs {
			rec := recs[v]
			if rec.Status != target {
				rec.Status = target
				if err := w.PutVersion(ctx, r.ID, rec); err != nil {
					return err
				}
			}
			res.SuccessfulVersions[v] = versionSuccess{Revision: rec.Revision, Status: string(rec.Status)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// guarded runs apply, under the package's lock, on the versions vs of a
// batch that the repository holds and that pass the batch's guards (recs,
// by version); the others are reported failed in the result.
func (h *Handler) guarded(ctx context.Context, r model.Repository, p formats.Package, body *batchBody, vs []string, apply func(w *resolver.Records, recs map[string]*resolver.VersionRecord, res *batchResult) error) (*batchResult, error) {
	res := newBatch()
	err := h.Resolver.UpdateRecords(ctx, r.Domain, p, func(w *resolver.Records) error {
		recs := map[string]*resolver.VersionRecord{}
		for _, v := range vs {
			rec, err := h.Resolver.VersionRecord(ctx, r.Domain, r.ID, p, v)
			if err != nil {
				return err
			}
			if code, msg := body.check(v, rec); code != "" {
				res.fail(v, code, msg)
				continue
			}
			recs[v] = rec
		}
		return apply(w, recs, res)
	})
	return res, err
}

// eachStored runs fn on every version a batch names that the repository
// holds and that passes the batch's guards, under the package's lock; the
// others are reported failed.
func (h *Handler) eachStored(c echo.Context, fn func(w *resolver.Records, r model.Repository, rec *resolver.VersionRecord) (versionSuccess, error)) (model.Repository, formats.Package, *batchResult, error) {
	r, p, body, vs, err := h.batchParams(c)
	if err != nil {
		return r, p, nil, err
	}
	ctx := c.Request().Context()
	res, err := h.guarded(ctx, r, p, body, vs, func(w *resolver.Records, recs map[string]*resolver.VersionRecord, res *batchResult) error {
		for _, v := range vs {
			rec, held := recs[v]
			if !held {
				continue
			}
			ok, err := fn(w, r, rec)
			if err != nil {
				return err
			}
			res.SuccessfulVersions[v] = ok
		}
		return nil
	})
	if err != nil {
		return r, p, nil, err
	}
	return r, p, res, nil
}

// DeletePackageVersions: POST /v1/package/versions/delete
func (h *Handler) deletePackageVersions(c echo.Context) error {
	ctx := c.Request().Context()
	_, _, res, err := h.eachStored(c, func(w *resolver.Records, r model.Repository, rec *resolver.VersionRecord) (versionSuccess, error) {
		err := w.DeleteVersion(ctx, r.ID, rec.Version.Version)
		return versionSuccess{Revision: rec.Revision, Status: "Deleted"}, err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// DisposePackageVersions: POST /v1/package/versions/dispose. The record
// stays with status Disposed; its bytes are released and reclaimed by the
// garbage collector once nothing else refers to them.
func (h *Handler) disposePackageVersions(c echo.Context) error {
	ctx := c.Request().Context()
	_, _, res, err := h.eachStored(c, func(w *resolver.Records, r model.Repository, rec *resolver.VersionRecord) (versionSuccess, error) {
		if rec.Status != formats.StatusDisposed {
			rec.Status = formats.StatusDisposed
			if err := w.PutVersion(ctx, r.ID, rec); err != nil {
				return versionSuccess{}, err
			}
		}
		return versionSuccess{Revision: rec.Revision, Status: string(rec.Status)}, nil
	})
	if err != nil {
		return err
	}
	if h.Collect != nil && len(res.SuccessfulVersions) > 0 {
		h.Collect()
	}
	return c.JSON(http.StatusOK, res)
}

// CopyPackageVersions: POST /v1/package/versions/copy?source-repository=&destination-repository=
// Copies references, never bytes (blobs belong to the domain).
func (h *Handler) copyPackageVersions(c echo.Context) error {
	req, err := h.copyParams(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newBatch()
	err = h.Resolver.UpdateRecords(ctx, req.domain, req.p, func(w *resolver.Records) error {
		srcPkg, err := h.Resolver.PackageRecord(ctx, req.domain, req.src.ID, req.p)
		if err != nil {
			return err
		}
		if err := h.copyVersions(ctx, w, req, res); err != nil {
			return err
		}
		return h.copyTags(ctx, w, req, srcPkg, res)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// copyRequest is a CopyPackageVersions call, checked.
type copyRequest struct {
	domain    string
	src, dst  model.Repository
	p         formats.Package
	body      batchBody
	versions  []string
	overwrite bool
	// holders are where each version can be copied from: the source
	// itself, or (with includeFromUpstream) whichever repository of its
	// graph holds it, as view says.
	holders map[string]string // repository name → ID
	view    *formats.View
}

func (h *Handler) copyParams(c echo.Context) (*copyRequest, error) {
	domain, err := h.domainParam(c)
	if err != nil {
		return nil, err
	}
	srcName, err := query(c, "source-repository")
	if err != nil {
		return nil, err
	}
	dstName, err := query(c, "destination-repository")
	if err != nil {
		return nil, err
	}
	req := &copyRequest{domain: domain}
	if req.src, err = h.Registry.Repository(domain, srcName); err != nil {
		return nil, err
	}
	if req.dst, err = h.Registry.Repository(domain, dstName); err != nil {
		return nil, err
	}
	req.p = h.normalize(formats.Package{Format: c.QueryParam("format"), Namespace: c.QueryParam("namespace"), Name: c.QueryParam("package")})
	if !validFormat(req.p.Format) || req.p.Name == "" {
		return nil, validation("format and package are required")
	}
	if err := h.checkPackage(req.src.Domain, req.p); err != nil {
		return nil, err
	}
	if err := decodeBody(c, &req.body); err != nil {
		return nil, err
	}
	h.normalizeBody(req.p, &req.body)
	if len(req.body.Versions) > 0 && len(req.body.VersionRevisions) > 0 {
		return nil, validation("give versions or versionRevisions, not both")
	}
	if req.versions, err = req.body.targets(); err != nil {
		return nil, err
	}
	req.overwrite = req.body.AllowOverwrite != nil && *req.body.AllowOverwrite
	req.holders = map[string]string{req.src.Name: req.src.ID}
	if req.body.IncludeFromUpstream != nil && *req.body.IncludeFromUpstream {
		if req.view, _, err = h.Resolver.ViewFrom(c.Request().Context(), domain, req.src.Name, req.p); err != nil {
			req.view = nil
		}
		repos, err := h.Registry.Repositories(domain)
		if err != nil {
			return nil, err
		}
		for _, repo := range repos {
			req.holders[repo.Name] = repo.ID
		}
	}
	return req, nil
}

// copyVersions copies each version's record into the destination.
func (h *Handler) copyVersions(ctx context.Context, w *resolver.Records, req *copyRequest, res *batchResult) error {
	domain, p := req.domain, req.p
	for _, v := range req.versions {
		rec, err := h.Resolver.VersionRecord(ctx, domain, req.src.ID, p, v)
		if err != nil {
			return err
		}
		if rec == nil && req.view != nil {
			if vv, ok := req.view.Versions[v]; ok && vv.Connection == "" {
				if rec, err = h.Resolver.VersionRecord(ctx, domain, req.holders[vv.Repository], p, v); err != nil {
					return err
				}
			}
		}
		if code, msg := req.body.check(v, rec); code != "" {
			res.fail(v, code, msg)
			continue
		}
		cur, err := h.Resolver.VersionRecord(ctx, domain, req.dst.ID, p, v)
		if err != nil {
			return err
		}
		if cur != nil && !req.overwrite {
			res.fail(v, codeAlreadyExists, "version "+v+" already exists in "+req.dst.Name)
			continue
		}
		cp := *rec
		if err := w.PutVersion(ctx, req.dst.ID, &cp); err != nil {
			return err
		}
		res.SuccessfulVersions[v] = versionSuccess{Revision: cp.Revision, Status: string(cp.Status)}
	}
	return nil
}

// copyTags moves the source's tags that point at a copied version (npm's
// dist-tags) to the destination.
func (h *Handler) copyTags(ctx context.Context, w *resolver.Records, req *copyRequest, srcPkg *resolver.PackageRecord, res *batchResult) error {
	if srcPkg == nil || len(srcPkg.Tags) == 0 || len(res.SuccessfulVersions) == 0 {
		return nil
	}
	dstPkg, err := h.Resolver.PackageRecord(ctx, req.domain, req.dst.ID, req.p)
	if err != nil || dstPkg == nil {
		return err
	}
	changed := false
	for tag, v := range srcPkg.Tags {
		if _, ok := res.SuccessfulVersions[v]; ok {
			if dstPkg.Tags == nil {
				dstPkg.Tags = map[string]string{}
			}
			dstPkg.Tags[tag] = v
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return w.PutPackage(ctx, req.dst.ID, dstPkg)
}

// normalizeBody puts the versions a batch names in canonical form.
func (h *Handler) normalizeBody(p formats.Package, b *batchBody) {
	for i, v := range b.Versions {
		b.Versions[i] = h.normalizeVersion(p, v)
	}
	if len(b.VersionRevisions) > 0 {
		revs := make(map[string]string, len(b.VersionRevisions))
		for v, rev := range b.VersionRevisions {
			revs[h.normalizeVersion(p, v)] = rev
		}
		b.VersionRevisions = revs
	}
}
