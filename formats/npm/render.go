package npm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Media types of the two packument representations.
const (
	mediaJSON  = "application/json"
	mediaCorgi = "application/vnd.npm.install-v1+json"
)

// corgiFields are the members of a version object kept in the abbreviated
// packument, in the order they are written. os/cpu/libc/engines/deprecated
// and peerDependenciesMeta stay: proxies that dropped them broke pnpm.
var corgiFields = []string{
	"name", "version", "deprecated", "dependencies", "optionalDependencies",
	"devDependencies", "peerDependencies", "peerDependenciesMeta",
	"bundleDependencies", "bundledDependencies", "acceptDependencies", "bin", "directories",
	"engines", "os", "cpu", "libc", "_hasShrinkwrap", "hasInstallScript",
}

// timeFormat is how the registry writes times.
const timeFormat = "2006-01-02T15:04:05.000Z"

// prepared is what every representation derives from a view: the versions
// offered (listed ones, ascending) and the dist-tags that point at them.
type prepared struct {
	v      *formats.View
	listed []string
	tags   map[string]string
}

// prepare keeps the versions clients are offered (status Published), drops
// dist-tags that point elsewhere (also the empty tombstones dist-tag rm
// leaves to hide an upstream tag), and makes sure "latest" exists.
func prepare(v *formats.View) *prepared {
	pr := &prepared{v: v, tags: map[string]string{}}
	for ver, vv := range v.Versions {
		if vv.Status.Listed() {
			pr.listed = append(pr.listed, ver)
		}
	}
	sortVersions(pr.listed)
	for t, ver := range v.Tags {
		if vv, ok := v.Versions[ver]; ok && vv.Status.Listed() {
			pr.tags[t] = ver
		}
	}
	if _, ok := pr.tags["latest"]; !ok && len(pr.listed) > 0 {
		pr.tags["latest"] = highest(pr.listed)
	}
	return pr
}

// rev is the CouchDB-style revision npm's write commands send back: it
// changes whenever the set of offered versions does, so a whole-document
// PUT built from an older read is refused instead of undoing a publish.
func (pr *prepared) rev() string {
	h := sha256.New()
	for _, v := range pr.listed {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return strconv.Itoa(len(pr.listed)+1) + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// times returns created and modified: the upstream's values widened by the
// publication times of the offered versions.
func (pr *prepared) times() (created, modified time.Time) {
	if pr.v.Extra != nil {
		if o, err := parseObject(pr.v.Extra); err == nil {
			var t struct {
				Created, Modified string
			}
			if raw := o.get(pr.v.Extra, "time"); raw != nil && json.Unmarshal(raw, &t) == nil {
				created, _ = time.Parse(time.RFC3339Nano, t.Created)
				modified, _ = time.Parse(time.RFC3339Nano, t.Modified)
			}
		}
	}
	for _, ver := range pr.listed {
		p := pr.v.Versions[ver].Published
		if p.IsZero() {
			continue
		}
		if created.IsZero() || p.Before(created) {
			created = p
		}
		if p.After(modified) {
			modified = p
		}
	}
	return created.UTC(), modified.UTC()
}

func notFound(p formats.Package) error {
	return fmt.Errorf("%w: npm: package %s has no versions available here", formats.ErrNotFound, displayName(p))
}

// renderPackument builds the full or the abbreviated packument of a view
// for clients of the repository at base.
func renderPackument(v *formats.View, base string, corgi bool) (*formats.Rendered, error) {
	pr := prepare(v)
	if len(pr.listed) == 0 {
		return nil, notFound(v.Package)
	}
	var body []byte
	var err error
	if corgi {
		body, err = pr.corgi(base)
	} else {
		body, err = pr.full(base)
	}
	if err != nil {
		return nil, err
	}
	ct := mediaJSON
	if corgi {
		ct = mediaCorgi
	}
	return &formats.Rendered{Body: body, ContentType: ct}, nil
}

// docWriter writes a JSON object member by member.
type docWriter struct {
	bytes.Buffer
	n int
}

func (w *docWriter) member(k string, raw []byte) {
	if w.n > 0 {
		w.WriteByte(',')
	}
	w.Write(quote(k))
	w.WriteByte(':')
	w.Write(raw)
	w.n++
}

func (w *docWriter) open()  { w.WriteByte('{'); w.n = 0 }
func (w *docWriter) close() { w.WriteByte('}') }

func fmtTime(t time.Time) []byte { return quote(t.UTC().Format(timeFormat)) }

// full writes the full packument: _id, _rev, name, the package-level
// fields, dist-tags, versions (each relayed as stored, with dist.tarball
// pointing here) and time.
func (pr *prepared) full(base string) ([]byte, error) {
	name := displayName(pr.v.Package)
	var w docWriter
	w.open()
	w.member("_id", quote(name))
	w.member("_rev", quote(pr.rev()))
	w.member("name", quote(name))
	pol := pr.restrictions(base, false)
	if pr.v.Extra != nil {
		if o, err := parseObject(pr.v.Extra); err == nil {
			for _, m := range o.members {
				if m.key == "time" || m.key == "_id" || m.key == "_rev" || m.key == "name" || m.key == "versions" || m.key == "dist-tags" ||
					(pol != nil && m.key == "policyRestrictions") {
					continue
				}
				w.member(m.key, pr.v.Extra[m.start:m.end])
			}
		}
	}
	pr.tagsAndVersions(&w, base, false)

	created, modified := pr.times()
	var ts docWriter
	ts.open()
	if !created.IsZero() {
		ts.member("created", fmtTime(created))
	}
	if !modified.IsZero() {
		ts.member("modified", fmtTime(modified))
	}
	for _, ver := range pr.listed {
		if p := pr.v.Versions[ver].Published; !p.IsZero() {
			ts.member(ver, fmtTime(p))
		}
	}
	ts.close()
	w.member("time", ts.Bytes())
	if pol != nil {
		w.member("policyRestrictions", pol)
	}
	w.close()
	return w.Bytes(), nil
}

// restrictions writes the policyRestrictions member of a packument for the
// versions a release-age cooldown holds in deny mode, or nil when there
// are none. npm-pick-manifest reads it: an exact version or a tag names a
// restricted version, or a range only restricted versions satisfy, and npm
// fails with E403 "Could not download NAME@SPEC due to policy violations"
// followed by the message; a range another version satisfies never picks
// a restricted one. Clients that do not know the member (pnpm, yarn) see
// the versions as absent, as in hide mode.
func (pr *prepared) restrictions(base string, corgi bool) []byte {
	var held []string
	for ver, h := range pr.v.Held {
		if _, dup := pr.v.Versions[ver]; h.Deny && !dup {
			held = append(held, ver)
		}
	}
	if len(held) == 0 {
		return nil
	}
	sortVersions(held)
	var vs docWriter
	vs.open()
	var msg bytes.Buffer
	for _, ver := range held {
		h := pr.v.Held[ver]
		meta, err := versionObject(h.ViewVersion, pr.v.Package, base)
		if err == nil && corgi {
			meta, err = abbreviate(meta)
		}
		if err != nil {
			continue
		}
		vs.member(ver, meta)
		if msg.Len() > 0 {
			msg.WriteByte('\n')
		}
		msg.WriteString(h.Reason)
	}
	vs.close()
	if vs.n == 0 {
		return nil
	}
	var w docWriter
	w.open()
	w.member("versions", vs.Bytes())
	w.member("message", quote(msg.String()))
	w.close()
	return w.Bytes()
}

// corgi writes the abbreviated packument: name, modified, dist-tags and
// versions cut down to what installers read.
func (pr *prepared) corgi(base string) ([]byte, error) {
	var w docWriter
	w.open()
	w.member("name", quote(displayName(pr.v.Package)))
	if _, modified := pr.times(); !modified.IsZero() {
		w.member("modified", fmtTime(modified))
	}
	pr.tagsAndVersions(&w, base, true)
	if pol := pr.restrictions(base, true); pol != nil {
		w.member("policyRestrictions", pol)
	}
	w.close()
	return w.Bytes(), nil
}

// tagsAndVersions writes the dist-tags and versions members: each listed
// version's object as clients of base see it, cut down to what installers
// read when abbreviated; a version whose object cannot be read is left out.
func (pr *prepared) tagsAndVersions(w *docWriter, base string, abbreviated bool) {
	tags, _ := json.Marshal(pr.tags)
	w.member("dist-tags", tags)
	var vs docWriter
	vs.open()
	for _, ver := range pr.listed {
		meta, err := versionObject(pr.v.Versions[ver], pr.v.Package, base)
		if err == nil && abbreviated {
			meta, err = abbreviate(meta)
		}
		if err != nil {
			continue
		}
		vs.member(ver, meta)
	}
	vs.close()
	w.member("versions", vs.Bytes())
}

// versionObject returns the version's document as clients of base see it:
// the stored object with only dist.tarball changed (added when absent).
func versionObject(v *formats.ViewVersion, p formats.Package, base string) ([]byte, error) {
	meta := []byte(v.Meta)
	if len(meta) == 0 {
		meta = []byte(`{"name":` + string(quote(displayName(p))) + `,"version":` + string(quote(v.Version.Version)) + `}`)
	}
	return patchTarball(meta, tarballURL(base, p, v.Version.Version))
}

// patchTarball sets dist.tarball in a version object, leaving every other
// byte as it is.
func patchTarball(meta []byte, url string) ([]byte, error) {
	if !json.Valid(meta) {
		return nil, errNotObject
	}
	o, err := parseObject(meta)
	if err != nil {
		return nil, err
	}
	dist := o.get(meta, "dist")
	var nd []byte
	if dist != nil && dist[0] == '{' {
		nd, err = setMember(dist, "tarball", quote(url))
		if err != nil {
			return nil, err
		}
	} else {
		nd = []byte(`{"tarball":` + string(quote(url)) + `}`)
	}
	return setMember(meta, "dist", nd)
}

// abbreviate cuts a version object down to the corgi fields and derives
// hasInstallScript from scripts, as the registry does.
func abbreviate(meta []byte) ([]byte, error) {
	o, err := parseObject(meta)
	if err != nil {
		return nil, err
	}
	var w docWriter
	w.open()
	for _, k := range corgiFields {
		if k == "hasInstallScript" {
			if raw := o.get(meta, k); raw != nil {
				w.member(k, raw)
			} else if hasInstallScript(o.get(meta, "scripts")) {
				w.member(k, []byte("true"))
			}
			continue
		}
		if raw := o.get(meta, k); raw != nil {
			w.member(k, raw)
		}
		if k == "directories" {
			// dist right after the dependency fields, as the registry orders it
			if raw := o.get(meta, "dist"); raw != nil {
				w.member("dist", raw)
			}
		}
	}
	w.close()
	return w.Bytes(), nil
}

func hasInstallScript(scripts []byte) bool {
	if scripts == nil {
		return false
	}
	var s map[string]any
	if json.Unmarshal(scripts, &s) != nil {
		return false
	}
	for _, k := range []string{"preinstall", "install", "postinstall"} {
		if v, ok := s[k].(string); ok && v != "" {
			return true
		}
	}
	return false
}

// resolveSpec finds the version a version document request names: an
// exact version that can be downloaded (Unlisted included), else a dist-tag.
func resolveSpec(v *formats.View, spec string) (*formats.ViewVersion, error) {
	if vv, ok := v.Versions[spec]; ok && vv.Status.Downloadable() {
		return vv, nil
	}
	pr := prepare(v)
	if ver, ok := pr.tags[spec]; ok {
		return v.Versions[ver], nil
	}
	return nil, fmt.Errorf("%w: npm: %s has no version or dist-tag %q here", formats.ErrNotFound, displayName(v.Package), formats.Clip(spec))
}

// renderVersion builds the document of one version.
func renderVersion(v *formats.View, base, spec string) (*formats.Rendered, error) {
	vv, err := resolveSpec(v, spec)
	if err != nil {
		return nil, err
	}
	body, err := versionObject(vv, v.Package, base)
	if err != nil {
		return nil, fmt.Errorf("npm: version %s of %s: stored document is not valid JSON", vv.Version.Version, displayName(v.Package))
	}
	return &formats.Rendered{Body: body, ContentType: mediaJSON}, nil
}
