package npm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// putDoc is a parsed PUT body: spans into the request body, nothing copied.
type putDoc struct {
	body     []byte
	top      *object
	name     string
	rev      string
	tags     map[string]string
	versions map[string][]byte // version → raw version object
	order    []string
	hasVers  bool // the document has a versions member
	atts     []attachment
}

type attachment struct {
	file string
	data []byte // raw JSON string
	len  []byte // raw length, nil when absent
}

// readBody reads a publish or update body within the request's intake
// bounds (and the format's own MaxPublishBody, when set). The caller closes
// the result.
func (h *handler) readBody(c echo.Context) (*putBody, error) {
	in := formats.IntakeFrom(c)
	limit := bodyBound(in)
	if h.f.opts.MaxPublishBody > 0 {
		limit = min(limit, h.f.opts.MaxPublishBody)
	}
	r := c.Request()
	if r.ContentLength > limit {
		return nil, formats.TooLarge("npm", "the request body", limit)
	}
	return readPut(formats.LimitBody(r.Body, limit, "npm", "the request body"), in)
}

// readSmall reads a small request body of at most limit bytes into memory.
func readSmall(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, formats.TooLarge("npm", "the request body", limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: npm: reading the request body: %v", formats.ErrInvalid, err)
	}
	if int64(len(b)) > limit {
		return nil, formats.TooLarge("npm", "the request body", limit)
	}
	return b, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: npm: "+format, append([]any{formats.ErrInvalid}, args...)...)
}

// parsePut reads the document of a publish or a whole-document update.
func parsePut(body []byte) (*putDoc, error) {
	if !json.Valid(body) {
		return nil, invalid("the request body is not valid JSON")
	}
	top, err := parseObject(body)
	if err != nil {
		return nil, invalid("the request body is not a JSON object")
	}
	d := &putDoc{body: body, top: top, versions: map[string][]byte{}}
	if raw := top.get(body, "name"); raw != nil {
		if err := json.Unmarshal(raw, &d.name); err != nil {
			return nil, invalid("name is not a string")
		}
	}
	if raw := top.get(body, "_rev"); raw != nil {
		_ = json.Unmarshal(raw, &d.rev)
	}
	if raw := top.get(body, "dist-tags"); raw != nil && string(raw) != "null" {
		if err := json.Unmarshal(raw, &d.tags); err != nil {
			return nil, invalid("dist-tags must map tags to versions")
		}
	}
	if raw := top.get(body, "versions"); raw != nil && string(raw) != "null" {
		vo, err := parseObject(raw)
		if err != nil {
			return nil, invalid("versions is not an object")
		}
		if len(vo.members) > maxVersions {
			return nil, invalid("too many versions")
		}
		d.hasVers = true
		for _, m := range vo.members {
			if m.end <= m.start || raw[m.start] != '{' {
				return nil, invalid("version %q is not an object", formats.Clip(m.key))
			}
			if _, dup := d.versions[m.key]; !dup {
				d.order = append(d.order, m.key)
			}
			d.versions[m.key] = raw[m.start:m.end]
		}
	}
	if raw := top.get(body, "_attachments"); raw != nil && string(raw) != "null" {
		ao, err := parseObject(raw)
		if err != nil {
			return nil, invalid("_attachments is not an object")
		}
		for _, m := range ao.members {
			a := attachment{file: m.key}
			if o, err := parseObject(raw[m.start:m.end]); err == nil {
				obj := raw[m.start:m.end]
				a.data, a.len = o.get(obj, "data"), o.get(obj, "length")
			}
			d.atts = append(d.atts, a)
		}
	}
	return d, nil
}

// put serves PUT /{pkg} and PUT /{pkg}/-rev/{rev}: a publish when the body
// carries a tarball, otherwise a whole-document update (deprecate,
// unpublish of versions).
func (h *handler) put(c echo.Context, rt route) error {
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	defer body.Close()
	d, err := parsePut(body.doc)
	if err != nil {
		return err
	}
	if d.name != "" && d.name != displayName(rt.pkg) {
		return invalid("the document is for %q, the URL names %s", formats.Clip(d.name), displayName(rt.pkg))
	}
	if len(d.atts) > 0 {
		return h.publish(c, rt, d, body)
	}
	return h.update(c, rt, d)
}

// publish stores the one new version a publish body carries (the document
// npm publish sends, built by libnpmpublish).
func (h *handler) publish(c echo.Context, rt route, d *putDoc, body *putBody) error {
	ref := formats.RepoFrom(c)
	p, err := parseName(displayName(rt.pkg), true)
	if err != nil {
		return err
	}
	if d.name == "" {
		return invalid("the document has no name")
	}
	att, err := publishedTarball(d)
	if err != nil {
		return err
	}
	version, err := publishedVersion(p, d, att.file)
	if err != nil {
		return err
	}
	meta := d.versions[version]
	vdoc, err := publishedVersionDoc(d, version, meta)
	if err != nil {
		return err
	}
	data, err := checkAttachment(att, body)
	if err != nil {
		return err
	}
	got := data.digests()
	stored, err := storedVersion(vdoc, version, meta, got)
	if err != nil {
		return err
	}
	tags, err := publishedTags(d, version)
	if err != nil {
		return err
	}
	file := tarballName(p, version)
	pub := formats.Publication{
		Version: formats.Version{
			Version: version,
			Status:  formats.StatusPublished,
			Meta:    stored,
			Assets:  []formats.AssetRef{{Name: file, Digests: got, Size: data.spool.Size()}},
		},
		Content: func(name string) (io.Reader, error) {
			if name != file {
				return nil, fmt.Errorf("%w: npm: no asset %s in this publish", formats.ErrNotFound, name)
			}
			return data.spool.Reader(), nil
		},
		Tags: tags,
	}
	if _, ok := tags["latest"]; ok {
		// The package-level fields follow the latest version, as the
		// registry hoists them.
		vo, _ := parseObject(meta)
		pub.Extra = buildExtra([]extraSource{{d.body, d.top}, {meta, vo}}, nil)
		if pub.Extra == nil {
			pub.Extra = json.RawMessage(`{}`)
		}
	}
	if err := h.res.Publish(c.Request().Context(), ref, p, pub); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "id": d.name, "success": true})
}

// publishedTarball returns the one tarball a publish carries; provenance
// bundles (.sigstore) are not kept.
func publishedTarball(d *putDoc) (*attachment, error) {
	var att *attachment
	for i := range d.atts {
		if strings.HasSuffix(d.atts[i].file, ".sigstore") {
			continue
		}
		if att != nil {
			return nil, invalid("a publish carries exactly one tarball")
		}
		att = &d.atts[i]
	}
	if att == nil {
		return nil, invalid("the publish carries no tarball")
	}
	return att, nil
}

// publishedDoc is what a publish's version object says about itself.
type publishedDoc struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dist    struct {
		Integrity string `json:"integrity"`
		Shasum    string `json:"shasum"`
	} `json:"dist"`
}

// publishedVersionDoc reads the version object meta of a publish, which
// must name the package and the version it is published as.
func publishedVersionDoc(d *putDoc, version string, meta []byte) (*publishedDoc, error) {
	var vdoc publishedDoc
	if err := json.Unmarshal(meta, &vdoc); err != nil {
		return nil, invalid("version %s: %v", version, err)
	}
	if vdoc.Name != d.name || vdoc.Version != version {
		return nil, invalid("version %s: its name and version fields must be %s and %s", version, d.name, version)
	}
	return &vdoc, nil
}

// storedVersion checks the tarball's digests got against those the version
// object meta declares, and returns the object as it is stored: without
// the client's tarball URL (it is rewritten on every render) and with both
// digests, so that clients can always verify.
func storedVersion(vdoc *publishedDoc, version string, meta []byte, got formats.Digests) ([]byte, error) {
	declared := declaredDigests(vdoc.Dist.Integrity, vdoc.Dist.Shasum)
	if vdoc.Dist.Integrity != "" && declared.SHA512 == "" && !strings.Contains(vdoc.Dist.Integrity, "sha1-") {
		return nil, invalid("dist.integrity %q is not a sha512 integrity", formats.Clip(vdoc.Dist.Integrity))
	}
	if declared.SHA512 != "" && declared.SHA512 != got.SHA512 {
		return nil, invalid("the tarball does not match dist.integrity")
	}
	if declared.SHA1 != "" && declared.SHA1 != got.SHA1 {
		return nil, invalid("the tarball does not match dist.shasum")
	}
	dist := []byte(`{}`)
	if mo, err := parseObject(meta); err == nil {
		if raw := mo.get(meta, "dist"); raw != nil && raw[0] == '{' {
			dist = raw
		}
	}
	var err error
	if dist, err = removeMember(dist, "tarball"); err != nil {
		return nil, invalid("version %s: bad dist", version)
	}
	if vdoc.Dist.Integrity == "" || declared.SHA512 == "" {
		if dist, err = setMember(dist, "integrity", quote(sriSHA512(got.SHA512))); err != nil {
			return nil, invalid("version %s: bad dist", version)
		}
	}
	if declared.SHA1 == "" {
		if dist, err = setMember(dist, "shasum", quote(got.SHA1)); err != nil {
			return nil, invalid("version %s: bad dist", version)
		}
	}
	stored, err := setMember(meta, "dist", dist)
	if err != nil {
		return nil, invalid("version %s: bad document", version)
	}
	return stored, nil
}

// publishedTags returns the dist-tags a publish sets on its version:
// "latest" when it names none.
func publishedTags(d *putDoc, version string) (map[string]string, error) {
	tags := map[string]string{}
	for t, v := range d.tags {
		if v != version {
			continue
		}
		if err := checkTag(t); err != nil {
			return nil, err
		}
		tags[t] = v
	}
	if len(tags) == 0 {
		tags["latest"] = version
	}
	return tags, nil
}

// publishedVersion finds the version a publish adds: the only one in the
// body, or (a client that merged the document after a conflict) the one the
// tarball is named for.
func publishedVersion(p formats.Package, d *putDoc, file string) (string, error) {
	var version string
	switch {
	case len(d.versions) == 1:
		version = d.order[0]
	case len(d.versions) == 0:
		return "", invalid("the publish carries no version")
	default:
		base := file
		if i := strings.LastIndexByte(base, '/'); i >= 0 {
			base = base[i+1:]
		}
		v, ok := strings.CutPrefix(strings.TrimSuffix(base, ".tgz"), p.Name+"-")
		if _, known := d.versions[v]; !ok || !known {
			return "", invalid("a publish carries exactly one new version")
		}
		version = v
	}
	if !validSemver(version) {
		return "", invalid("version %q is not a valid SemVer version", formats.Clip(version))
	}
	return version, nil
}

// checkAttachment returns the spooled tarball of an attachment and checks
// its declared length.
func checkAttachment(a *attachment, body *putBody) (*spooled, error) {
	data, ok := body.attachment(a.data)
	if !ok {
		return nil, invalid("attachment %s has no data", formats.Clip(a.file))
	}
	if data.spool.Size() == 0 {
		return nil, invalid("attachment %s is empty", formats.Clip(a.file))
	}
	if a.len != nil {
		var n int64
		if err := json.Unmarshal(a.len, &n); err != nil || n != data.spool.Size() {
			return nil, invalid("attachment %s: length %s does not match its %d bytes", formats.Clip(a.file), formats.Clip(string(a.len)), data.spool.Size())
		}
	}
	return data, nil
}

// update applies a whole-document PUT without tarball: deprecations of the
// versions stored in this repository and, with /-rev/{rev}, the removal of
// the versions stored here that the document no longer lists (npm
// unpublish of one version). The document must have been read at the
// current revision.
func (h *handler) update(c echo.Context, rt route, d *putDoc) error {
	ctx, ref, v, err := h.freshView(c, rt.pkg)
	if err != nil {
		return err
	}
	pr := prepare(v)
	rev := d.rev
	if rt.kind == routePackumentRev {
		rev = rt.rev
	}
	if rev != "" && rev != pr.rev() {
		return fmt.Errorf("%w: npm: %s changed since it was read (revision %s, now %s): read it again with ?write=true", formats.ErrConflict, displayName(rt.pkg), formats.Clip(rev), pr.rev())
	}
	stored := func(ver string) bool {
		vv := v.Versions[ver]
		return vv != nil && vv.Repository == ref.Repository && vv.Connection == ""
	}
	type change struct {
		version    string
		deprecated *string // nil: remove the field
	}
	var changes []change
	for _, ver := range d.order {
		vv := v.Versions[ver]
		if vv == nil {
			continue // not something this repository offers; nothing to change
		}
		want, err := deprecation(d.versions[ver])
		if err != nil {
			return invalid("version %s: %v", ver, err)
		}
		have, _ := deprecation(vv.Meta)
		if (want == nil) == (have == nil) && (want == nil || *want == *have) {
			continue
		}
		if !stored(ver) {
			return fmt.Errorf("%w: npm: version %s of %s is not stored in repository %s (it comes from %s): change it there", formats.ErrNotAllowed, ver, displayName(rt.pkg), ref.Repository, vv.Repository)
		}
		changes = append(changes, change{ver, want})
	}
	var removed []string
	if rt.kind == routePackumentRev && d.hasVers {
		for _, ver := range pr.listed {
			if _, ok := d.versions[ver]; ok {
				continue
			}
			if !stored(ver) {
				return fmt.Errorf("%w: npm: version %s of %s is not stored in repository %s (it comes from %s) and cannot be unpublished here", formats.ErrNotAllowed, ver, displayName(rt.pkg), ref.Repository, v.Versions[ver].Repository)
			}
			removed = append(removed, ver)
		}
		if len(removed) > 0 && len(removed) == len(pr.listed) {
			return invalid("an update cannot remove every version: unpublish the package instead")
		}
	}
	for _, ch := range changes {
		err := h.res.UpdateVersion(ctx, ref, rt.pkg, ch.version, func(ver *formats.Version) error {
			meta, err := setDeprecated(ver.Meta, ch.deprecated)
			if err != nil {
				return fmt.Errorf("npm: version %s: stored document: %w", ch.version, err)
			}
			ver.Meta = meta
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := h.removeVersions(c, rt.pkg, removed); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "id": displayName(rt.pkg)})
}

// removeVersions deletes versions stored in the repository and the tags
// that pointed at them.
func (h *handler) removeVersions(c echo.Context, p formats.Package, versions []string) error {
	if len(versions) == 0 {
		return nil
	}
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	gone := map[string]bool{}
	for _, ver := range versions {
		if err := h.res.DeleteVersion(ctx, ref, p, ver); err != nil && !errors.Is(err, formats.ErrNotFound) {
			return err
		}
		gone[ver] = true
	}
	return h.res.UpdatePackage(ctx, ref, p, func(st *formats.PackageState) error {
		for t, ver := range st.Tags {
			if gone[ver] {
				delete(st.Tags, t)
			}
		}
		return nil
	})
}

// deprecation reads a version object's deprecated field: nil when absent
// or empty (npm deprecate sends "" to lift a deprecation).
func deprecation(meta []byte) (*string, error) {
	if len(meta) == 0 {
		return nil, nil
	}
	o, err := parseObject(meta)
	if err != nil {
		return nil, err
	}
	raw := o.get(meta, "deprecated")
	if raw == nil || string(raw) == "null" || string(raw) == "false" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("deprecated must be a string")
	}
	if s == "" {
		return nil, nil
	}
	if len(s) > 1024 {
		return nil, errors.New("the deprecation message is longer than 1024 bytes")
	}
	return &s, nil
}

func setDeprecated(meta []byte, msg *string) ([]byte, error) {
	if len(meta) == 0 {
		meta = []byte(`{}`)
	}
	if !json.Valid(meta) {
		return nil, errNotObject
	}
	if msg == nil {
		return removeMember(meta, "deprecated")
	}
	return setMember(meta, "deprecated", quote(*msg))
}

// unpublishAll serves DELETE /{pkg}/-rev/{rev}: every version stored in this
// repository is removed (upstream versions stay where they are).
func (h *handler) unpublishAll(c echo.Context, rt route) error {
	_, ref, v, err := h.freshView(c, rt.pkg)
	if err != nil {
		return err
	}
	pr := prepare(v)
	if rt.rev != pr.rev() {
		return fmt.Errorf("%w: npm: %s changed since it was read (revision %s, now %s): read it again with ?write=true", formats.ErrConflict, displayName(rt.pkg), formats.Clip(rt.rev), pr.rev())
	}
	var versions []string
	for ver, vv := range v.Versions {
		if vv.Repository == ref.Repository && vv.Connection == "" {
			versions = append(versions, ver)
		}
	}
	if len(versions) == 0 {
		return fmt.Errorf("%w: npm: repository %s stores no version of %s", formats.ErrNotFound, ref.Repository, displayName(rt.pkg))
	}
	sortVersions(versions)
	if err := h.removeVersions(c, rt.pkg, versions); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "id": displayName(rt.pkg)})
}
