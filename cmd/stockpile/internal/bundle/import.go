package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ErrTampered is a bundle whose content does not match its manifest.
var ErrTampered = errors.New("the bundle does not match its manifest")

// ErrConflict is a version the target holds with other bytes.
var ErrConflict = errors.New("the repository holds this version with other assets")

// Opened is a bundle read and verified, its blobs spooled to Dir.
type Opened struct {
	Manifest Manifest
	Dir      string
}

// Blob reads one asset of the bundle.
func (o *Opened) Blob(sha256 string) ([]byte, error) {
	return os.ReadFile(filepath.Join(o.Dir, sha256))
}

// Open reads a bundle, spooling its blobs into dir, and verifies it
// before anything is imported: every entry's SHA-256 is the one its name
// gives, every asset of the manifest is there, and nothing else is.
func Open(r io.Reader, dir string) (*Opened, error) {
	zr, err := zstd.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != ManifestName {
		return nil, fmt.Errorf("%w: it does not begin with %s (%v)", ErrTampered, ManifestName, err)
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, 256<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTampered, ManifestName, err)
	}
	if m.StockpileBundle < oldestVersion || m.StockpileBundle > Version {
		return nil, fmt.Errorf("bundle layout %d: this stockpile reads %d to %d", m.StockpileBundle, oldestVersion, Version)
	}
	want := map[string]int64{}
	for _, r := range m.Repositories {
		for _, p := range r.Packages {
			if !slices.Contains(Formats, p.Format) {
				return nil, fmt.Errorf("%s: %w", p, ErrFormat)
			}
			for _, v := range p.Versions {
				for _, a := range v.Assets {
					want[a.SHA256] = a.Size
				}
			}
		}
	}
	got := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTampered, err)
		}
		sum, ok := strings.CutPrefix(hdr.Name, "blobs/sha256/")
		size, listed := want[sum]
		if !ok || !listed || got[sum] {
			return nil, fmt.Errorf("%w: %s is not an asset of the manifest", ErrTampered, hdr.Name)
		}
		if err := spool(tr, filepath.Join(dir, sum), sum, size, hdr.Name); err != nil {
			return nil, err
		}
		got[sum] = true
	}
	for sum := range want {
		if !got[sum] {
			return nil, fmt.Errorf("%w: %s is missing", ErrTampered, BlobName(sum))
		}
	}
	return &Opened{Manifest: m, Dir: dir}, nil
}

func spool(r io.Reader, path, sum string, size int64, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum || n != size {
		return fmt.Errorf("%w: %s has %d bytes with SHA-256 %s, not the %d bytes its name and the manifest give", ErrTampered, name, n, got, size)
	}
	return f.Close()
}

// Target is where a bundle goes.
type Target struct {
	CP    ControlPlane
	HTTP  *http.Client
	Base  string // http://host:port
	Token string // for the repository endpoints
	// Domain is the domain imported into.
	Domain string
	// Rename maps the bundle's repository names to the target's; a name
	// not in it is kept.
	Rename map[string]string
}

func (t Target) repo(name string) string {
	if r, ok := t.Rename[name]; ok {
		return r
	}
	return name
}

// Report counts what Import did.
type Report struct {
	CreatedRepositories    []string
	Imported, AlreadyThere int
	Conflicts              []string
	// Notes are the bundle's settings that were not applied: upstreams, an
	// external connection or an npm dist-tag the target has otherwise (left
	// as they are), an upstream the target domain lacks.
	Notes []string
}

// Import creates the domain and the repositories that do not exist, gives
// each repository the bundle's upstreams and external connection where it
// has none (see configure), then publishes every version the repositories
// lack, with its status and its package's origin controls and npm
// dist-tags. A version already there with the same assets is left alone
// (so importing twice changes nothing); one there with other bytes is
// refused, as a publish would be, and reported; the rest is still
// imported.
//
// token mints the data-plane token once the domain exists.
func Import(ctx context.Context, t Target, o *Opened, progress Progress, token func() (string, error)) (Report, error) {
	var rep Report
	created, err := ensureRepositories(ctx, t, o.Manifest)
	if err != nil {
		return rep, err
	}
	rep.CreatedRepositories = created
	if rep.Notes, err = configure(ctx, t, o.Manifest); err != nil {
		return rep, err
	}
	if t.Token, err = token(); err != nil {
		return rep, fmt.Errorf("GetAuthorizationToken: %w", err)
	}
	_, total, _ := o.Manifest.Counts()
	done := 0
	step := func() {
		done++
		if progress != nil {
			progress.Step(done, total)
		}
	}
	for _, r := range o.Manifest.Repositories {
		repo := t.repo(r.Name)
		for _, p := range r.Packages {
			if err := importPackage(ctx, t, o, repo, p, &rep, step); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// importPackage imports one package's versions, then puts back the
// statuses a snapshot deploy changed, sets its dist-tags and its origin
// controls.
func importPackage(ctx context.Context, t Target, o *Opened, repo string, p Package, rep *Report, step func()) error {
	var before, tagsBefore map[string]string
	if p.Format == "npm" || slices.ContainsFunc(p.Versions, func(v PkgVersion) bool { return v.Snapshot != "" }) {
		var err error
		if before, err = versionStatuses(ctx, t.CP, t.Domain, repo, p); err != nil {
			return err
		}
	}
	if p.Format == "npm" && len(p.DistTags) > 0 && len(before) > 0 {
		var err error
		if tagsBefore, err = t.distTags(ctx, repo, p); err != nil {
			return fmt.Errorf("%s: %s: dist-tags: %w", repo, p, err)
		}
	}
	imported := map[string]string{} // version → its status in the bundle
	for _, v := range p.Versions {
		have, err := listAssets(ctx, t.CP, t.Domain, repo, p, v.Version)
		switch {
		case err == nil && sameAssets(have, v.Assets):
			rep.AlreadyThere++
		case err == nil:
			rep.Conflicts = append(rep.Conflicts, fmt.Sprintf("%s: %s %s: %v", repo, p, v.Version, ErrConflict))
		case isNotFound(err):
			if err := publish(ctx, t, repo, o, p, v); err != nil {
				return fmt.Errorf("%s: %s %s: %w", repo, p, v.Version, err)
			}
			if err := setStatus(ctx, t, repo, p, v.Status, v.Version); err != nil {
				return err
			}
			imported[v.Version] = v.Status
			rep.Imported++
		default:
			return err
		}
		step()
	}
	if p.Format == "maven" && before != nil && len(imported) > 0 {
		if err := restoreStatuses(ctx, t, repo, p, before, imported); err != nil {
			return err
		}
	}
	if p.Format == "npm" && len(p.DistTags) > 0 {
		kept, err := setDistTags(ctx, t, repo, p, tagsBefore)
		if err != nil {
			return fmt.Errorf("%s: %s: dist-tags: %w", repo, p, err)
		}
		rep.Notes = append(rep.Notes, kept...)
	}
	if p.Origin.Publish != "" && p.Origin.Upstream != "" {
		body := map[string]any{"restrictions": p.Origin}
		if err := call(ctx, t.CP, http.MethodPost, "/v1/package", pkgQuery(t.Domain, repo, p), body, nil); err != nil {
			return fmt.Errorf("%s: %s: origin controls: %w", repo, p, err)
		}
	}
	return nil
}

// setStatus gives versions status (a publish leaves them Published).
func setStatus(ctx context.Context, t Target, repo string, p Package, status string, versions ...string) error {
	if status == "Published" || len(versions) == 0 {
		return nil
	}
	body := map[string]any{"versions": versions, "targetStatus": status}
	if err := call(ctx, t.CP, http.MethodPost, "/v1/package/versions/update_status", pkgQuery(t.Domain, repo, p), body, nil); err != nil {
		return fmt.Errorf("%s: %s %v: status %s: %w", repo, p, versions, status, err)
	}
	return nil
}

// versionStatuses lists the statuses of a package's versions in repo;
// none when the repository does not hold the package.
func versionStatuses(ctx context.Context, cp ControlPlane, domain, repo string, p Package) (map[string]string, error) {
	out := map[string]string{}
	next := ""
	for {
		q := pkgQuery(domain, repo, p)
		q.Set("max-results", "1000")
		if next != "" {
			q.Set("next-token", next)
		}
		var res struct {
			Versions []struct {
				Version, Status string
			} `json:"versions"`
			NextToken string `json:"nextToken"`
		}
		err := call(ctx, cp, http.MethodPost, "/v1/package/versions", q, nil, &res)
		if isNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("ListPackageVersions %s: %w", p, err)
		}
		for _, v := range res.Versions {
			out[v.Version] = v.Status
		}
		if res.NextToken == "" {
			return out, nil
		}
		next = res.NextToken
	}
}

// restoreStatuses puts back the statuses a snapshot deploy changed: the
// version-level metadata that publishes a build unlists the snapshot's
// other Published builds, so after the package every build imported gets
// its status in the bundle and every build already there the one it had.
func restoreStatuses(ctx context.Context, t Target, repo string, p Package, before, imported map[string]string) error {
	now, err := versionStatuses(ctx, t.CP, t.Domain, repo, p)
	if err != nil {
		return err
	}
	fix := map[string][]string{} // status → versions
	for v, cur := range now {
		want, ok := imported[v]
		if !ok {
			want = before[v]
		}
		if want != "" && cur != want && (want == "Published" || want == "Unlisted" || want == "Archived") {
			fix[want] = append(fix[want], v)
		}
	}
	for _, status := range []string{"Published", "Unlisted", "Archived"} {
		if len(fix[status]) == 0 {
			continue
		}
		slices.Sort(fix[status])
		body := map[string]any{"versions": fix[status], "targetStatus": status}
		if err := call(ctx, t.CP, http.MethodPost, "/v1/package/versions/update_status", pkgQuery(t.Domain, repo, p), body, nil); err != nil {
			return fmt.Errorf("%s: %s %v: status %s: %w", repo, p, fix[status], status, err)
		}
	}
	return nil
}

func sameAssets(have, want []Asset) bool {
	if len(have) != len(want) {
		return false
	}
	m := map[string]string{}
	for _, a := range have {
		m[a.Name] = a.SHA256
	}
	for _, a := range want {
		if m[a.Name] != a.SHA256 {
			return false
		}
	}
	return true
}

func (t Target) endpoint(format, repo string) string {
	return strings.TrimRight(t.Base, "/") + "/" + t.Domain + "/" + format + "/" + repo + "/"
}

// publish publishes one version the way its format's clients do.
func publish(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	switch p.Format {
	case "generic":
		return publishGeneric(ctx, t, repo, o, p, v)
	case "npm":
		return publishNPM(ctx, t, repo, o, p, v)
	case "pypi":
		return publishPyPI(ctx, t, repo, o, p, v)
	case "ruby":
		// gem push (https://guides.rubygems.org/rubygems-org-api/#gem-methods)
		return publishFile(ctx, t, o, v, ".gem", http.MethodPost, t.endpoint("ruby", repo)+"api/v1/gems")
	case "cargo":
		return publishCargo(ctx, t, repo, o, v)
	case "maven":
		return publishMaven(ctx, t, repo, o, p, v)
	case "nuget":
		// nuget push, the PackagePublish resource
		// (https://learn.microsoft.com/nuget/api/package-publish-resource)
		return publishFile(ctx, t, o, v, ".nupkg", http.MethodPut, t.endpoint("nuget", repo)+"api/v2/package")
	}
	return fmt.Errorf("%s: %w", p, ErrFormat)
}

// publishGeneric calls PublishPackageVersion for each asset, the last one
// finishing the version.
func publishGeneric(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	for i, a := range v.Assets {
		body, err := o.Blob(a.SHA256)
		if err != nil {
			return err
		}
		q := pkgQuery(t.Domain, repo, p)
		q.Set("version", v.Version)
		q.Set("asset", a.Name)
		if i < len(v.Assets)-1 {
			q.Set("unfinished", "true")
		}
		if _, err := t.CP.Call(ctx, http.MethodPost, "/v1/package/version/publish", q, body); err != nil {
			return err
		}
	}
	return nil
}

// publishNPM sends what npm publish sends: the version's package.json,
// read from the tarball, with its dist, and the tarball as an attachment
// (https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md).
func publishNPM(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	if len(v.Assets) != 1 {
		return fmt.Errorf("an npm version has one tarball, not %d assets", len(v.Assets))
	}
	tgz, err := o.Blob(v.Assets[0].SHA256)
	if err != nil {
		return err
	}
	manifest, err := packageJSON(tgz)
	if err != nil {
		return err
	}
	name := p.Name
	if p.Namespace != "" {
		name = "@" + p.Namespace + "/" + p.Name
	}
	s1, s512 := sha1.Sum(tgz), sha512.Sum512(tgz)
	manifest["dist"] = map[string]string{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
		"tarball": t.endpoint("npm", repo) + name + "/-/" + v.Assets[0].Name}
	body, err := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": v.Version},
		"versions":     map[string]any{v.Version: manifest},
		"_attachments": map[string]any{v.Assets[0].Name: map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}},
	})
	if err != nil {
		return err
	}
	return t.send(ctx, http.MethodPut, t.endpoint("npm", repo)+strings.Replace(name, "/", "%2f", 1), "application/json", body)
}

// packageJSON reads package/package.json (or the first */package.json)
// of an npm tarball.
func packageJSON(tgz []byte) (map[string]any, error) {
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("the tarball: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("the tarball has no package.json: %w", err)
		}
		if parts := strings.Split(hdr.Name, "/"); len(parts) == 2 && parts[1] == "package.json" {
			var m map[string]any
			if err := json.NewDecoder(io.LimitReader(tr, 4<<20)).Decode(&m); err != nil {
				return nil, fmt.Errorf("%s: %w", hdr.Name, err)
			}
			return m, nil
		}
	}
}

// publishPyPI uploads each file as twine does (the legacy upload API).
func publishPyPI(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	for _, a := range v.Assets {
		data, err := o.Blob(a.SHA256)
		if err != nil {
			return err
		}
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		for _, kv := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", p.Name}, {"version", v.Version}, {"sha256_digest", a.SHA256}} {
			if err := mw.WriteField(kv[0], kv[1]); err != nil {
				return err
			}
		}
		fw, err := mw.CreateFormFile("content", a.Name)
		if err != nil {
			return err
		}
		fw.Write(data)
		if err := mw.Close(); err != nil {
			return err
		}
		if err := t.send(ctx, http.MethodPost, t.endpoint("pypi", repo), mw.FormDataContentType(), form.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// publishFile sends the version's package file (the asset named
// *suffix; the others, a .nuspec, are the server's extracts of it) as the
// body, as gem push and nuget push do.
func publishFile(ctx context.Context, t Target, o *Opened, v PkgVersion, suffix, method, u string) error {
	var pkg *Asset
	for i, a := range v.Assets {
		if strings.HasSuffix(strings.ToLower(a.Name), suffix) {
			if pkg != nil {
				return fmt.Errorf("two %s assets", suffix)
			}
			pkg = &v.Assets[i]
		}
	}
	if pkg == nil {
		return fmt.Errorf("no %s asset", suffix)
	}
	data, err := o.Blob(pkg.SHA256)
	if err != nil {
		return err
	}
	return t.send(ctx, method, u, "application/octet-stream", data)
}

// send sends a data-plane request with the token.
func (t Target) send(ctx context.Context, method, u, contentType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	req.Header.Set("Content-Type", contentType)
	hc := t.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// publishCargo sends what cargo publish sends: the publish metadata, made
// from the version's index line, and the .crate
// (https://doc.rust-lang.org/cargo/reference/registry-web-api.html#publish).
func publishCargo(ctx context.Context, t Target, repo string, o *Opened, v PkgVersion) error {
	var line struct {
		Name string `json:"name"`
		Vers string `json:"vers"`
		Deps []struct {
			Name            string   `json:"name"`
			Req             string   `json:"req"`
			Features        []string `json:"features"`
			Optional        bool     `json:"optional"`
			DefaultFeatures bool     `json:"default_features"`
			Target          *string  `json:"target"`
			Kind            string   `json:"kind"`
			Registry        *string  `json:"registry"`
			Package         *string  `json:"package"`
		} `json:"deps"`
		Features    map[string][]string `json:"features"`
		Features2   map[string][]string `json:"features2"`
		Links       *string             `json:"links"`
		RustVersion *string             `json:"rust_version"`
	}
	if err := json.Unmarshal(v.CargoIndexLine, &line); err != nil || line.Name == "" {
		return fmt.Errorf("the bundle has no index line for it (%v)", err)
	}
	crate := v.Assets
	if len(crate) != 1 {
		return fmt.Errorf("a crate version has one .crate, not %d assets", len(crate))
	}
	data, err := o.Blob(crate[0].SHA256)
	if err != nil {
		return err
	}
	features := map[string][]string{}
	for k, f := range line.Features {
		features[k] = f
	}
	for k, f := range line.Features2 {
		features[k] = f
	}
	deps := make([]map[string]any, 0, len(line.Deps))
	for _, d := range line.Deps {
		name, explicit := d.Name, (*string)(nil)
		if d.Package != nil { // renamed in Cargo.toml: the index names the crate in package
			name, explicit = *d.Package, &d.Name
		}
		feats := d.Features
		if feats == nil {
			feats = []string{}
		}
		deps = append(deps, map[string]any{"name": name, "version_req": d.Req, "features": feats, "optional": d.Optional,
			"default_features": d.DefaultFeatures, "target": d.Target, "kind": d.Kind, "registry": d.Registry, "explicit_name_in_toml": explicit})
	}
	meta, err := json.Marshal(map[string]any{"name": line.Name, "vers": line.Vers, "deps": deps, "features": features,
		"authors": []string{}, "description": nil, "documentation": nil, "homepage": nil, "readme": nil, "readme_file": nil,
		"keywords": []string{}, "categories": []string{}, "license": nil, "license_file": nil, "repository": nil,
		"badges": map[string]any{}, "links": line.Links, "rust_version": line.RustVersion})
	if err != nil {
		return err
	}
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, uint32(len(meta)))
	body = append(body, meta...)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	return t.send(ctx, http.MethodPut, t.endpoint("cargo", repo)+"api/v1/crates/new", "application/octet-stream", body)
}

// publishMaven deploys as mvn deploy does: each file of the version, then
// the artifact's maven-metadata.xml naming it, which finishes the version
// (https://maven.apache.org/repository/layout.html).
//
// A snapshot build's files go into its snapshot's directory
// (1.0-SNAPSHOT/lib-1.0-20240502.141207-3.jar), and the version-level
// metadata naming its timestamp and build number finishes it, as a
// deploy with unique snapshot versions does.
func publishMaven(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	dir := t.endpoint("maven", repo) + strings.ReplaceAll(p.Namespace, ".", "/") + "/" + p.Name + "/"
	versionDir := v.Version
	if v.Snapshot != "" {
		versionDir = v.Snapshot
	}
	for _, a := range v.Assets {
		data, err := o.Blob(a.SHA256)
		if err != nil {
			return err
		}
		if err := t.send(ctx, http.MethodPut, dir+versionDir+"/"+a.Name, "application/octet-stream", data); err != nil {
			return err
		}
	}
	if v.Snapshot != "" {
		m := snapshotBuildRE.FindStringSubmatch(v.Version)
		if m == nil || m[1]+"-SNAPSHOT" != v.Snapshot {
			return fmt.Errorf("%s is not a build of snapshot %s", v.Version, v.Snapshot)
		}
		meta := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>" + xmlText(p.Namespace) + "</groupId>\n  <artifactId>" + xmlText(p.Name) +
			"</artifactId>\n  <version>" + xmlText(v.Snapshot) + "</version>\n  <versioning>\n    <snapshot>\n      <timestamp>" + m[2] +
			"</timestamp>\n      <buildNumber>" + m[3] + "</buildNumber>\n    </snapshot>\n  </versioning>\n</metadata>\n"
		return t.send(ctx, http.MethodPut, dir+v.Snapshot+"/maven-metadata.xml", "application/xml", []byte(meta))
	}
	meta := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>" + xmlText(p.Namespace) + "</groupId>\n  <artifactId>" + xmlText(p.Name) +
		"</artifactId>\n  <versioning>\n    <versions>\n      <version>" + xmlText(v.Version) + "</version>\n    </versions>\n  </versioning>\n</metadata>\n"
	return t.send(ctx, http.MethodPut, dir+"maven-metadata.xml", "application/xml", []byte(meta))
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
