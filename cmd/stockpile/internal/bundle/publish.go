package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
)

// Every publish streams its asset from the spooled blob: the request body
// is the asset's file between the bytes of the request that come before
// and after it, and its length is known, so no asset is held in memory.

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

// sendBlob sends head, then the asset, then tail as the body of a
// data-plane request.
func (t Target) sendBlob(ctx context.Context, method, u, contentType string, o *Opened, a Asset, head, tail []byte) error {
	f, err := o.Blob(a.SHA256)
	if err != nil {
		return err
	}
	defer f.Close()
	body := io.MultiReader(bytes.NewReader(head), io.LimitReader(f, a.Size), bytes.NewReader(tail))
	return t.send(ctx, method, u, contentType, body, int64(len(head))+a.Size+int64(len(tail)))
}

// publishGeneric calls PublishPackageVersion for each asset, the last one
// finishing the version; the signature covers the asset's SHA-256, which
// the server checks the streamed body against.
func publishGeneric(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	for i, a := range v.Assets {
		q := pkgQuery(t.Domain, repo, p)
		q.Set("version", v.Version)
		q.Set("asset", a.Name)
		if i < len(v.Assets)-1 {
			q.Set("unfinished", "true")
		}
		f, err := o.Blob(a.SHA256)
		if err != nil {
			return err
		}
		_, err = t.CP.Send(ctx, http.MethodPost, "/v1/package/version/publish", q, io.LimitReader(f, a.Size), a.Size, a.SHA256)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// publishNPM sends what npm publish sends: the version's package.json,
// read from the tarball, with its dist, and the tarball as a base64
// attachment (https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md),
// encoded as it is sent.
func publishNPM(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	if len(v.Assets) != 1 {
		return fmt.Errorf("an npm version has one tarball, not %d assets", len(v.Assets))
	}
	a := v.Assets[0]
	manifest, err := o.packageJSON(a.SHA256)
	if err != nil {
		return err
	}
	d, ok := o.npm[a.SHA256]
	if !ok || d.sha1 == nil {
		return fmt.Errorf("%s: no digests of its tarball", p)
	}
	name := npmName(p)
	manifest["dist"] = map[string]string{"shasum": hex.EncodeToString(d.sha1), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(d.sha512),
		"tarball": t.endpoint("npm", repo) + name + "/-/" + a.Name}
	// The document is marshalled with a random stand-in for the data,
	// then sent around the tarball's encoding.
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	mark := `"` + hex.EncodeToString(nonce[:]) + `"`
	doc, err := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": v.Version},
		"versions":     map[string]any{v.Version: manifest},
		"_attachments": map[string]any{a.Name: map[string]any{"content_type": "application/octet-stream", "data": json.RawMessage(mark), "length": a.Size}},
	})
	if err != nil {
		return err
	}
	i := bytes.Index(doc, []byte(mark))
	if i < 0 {
		return fmt.Errorf("%s: the publish document lost its data", p)
	}
	head, tail := doc[:i+1], doc[i+len(mark)-1:]
	f, err := o.Blob(a.SHA256)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		_, err := io.Copy(enc, io.LimitReader(f, a.Size))
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
	}()
	body := io.MultiReader(bytes.NewReader(head), pr, bytes.NewReader(tail))
	err = t.send(ctx, http.MethodPut, t.endpoint("npm", repo)+strings.Replace(name, "/", "%2f", 1), "application/json", body,
		int64(len(head))+int64(base64.StdEncoding.EncodedLen(int(a.Size)))+int64(len(tail)))
	pr.CloseWithError(io.ErrClosedPipe)
	<-done
	return err
}

// packageJSON reads package/package.json (or the first */package.json)
// of an npm tarball, streaming it from its blob.
func (o *Opened) packageJSON(sum string) (map[string]any, error) {
	f, err := o.Blob(sum)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
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

// switchWriter writes to W, which the caller may change between writes.
type switchWriter struct{ W io.Writer }

func (s *switchWriter) Write(b []byte) (int, error) { return s.W.Write(b) }

// publishPyPI uploads each file as twine does (the legacy upload API): the
// form's fields and the file part's header, the file, the closing
// boundary.
func publishPyPI(ctx context.Context, t Target, repo string, o *Opened, p Package, v PkgVersion) error {
	for _, a := range v.Assets {
		var head, tail bytes.Buffer
		sw := &switchWriter{W: &head}
		mw := multipart.NewWriter(sw)
		for _, kv := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", p.Name}, {"version", v.Version}, {"sha256_digest", a.SHA256}} {
			if err := mw.WriteField(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if _, err := mw.CreateFormFile("content", a.Name); err != nil {
			return err
		}
		sw.W = &tail
		if err := mw.Close(); err != nil {
			return err
		}
		if err := t.sendBlob(ctx, http.MethodPost, t.endpoint("pypi", repo), mw.FormDataContentType(), o, a, head.Bytes(), tail.Bytes()); err != nil {
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
	return t.sendBlob(ctx, method, u, "application/octet-stream", o, *pkg, nil, nil)
}

// send sends a data-plane request of size bytes with the token.
func (t Target) send(ctx context.Context, method, u, contentType string, body io.Reader, size int64) error {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
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

// sendBytes sends a small document.
func (t Target) sendBytes(ctx context.Context, method, u, contentType string, body []byte) error {
	return t.send(ctx, method, u, contentType, bytes.NewReader(body), int64(len(body)))
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
	var head []byte
	head = binary.LittleEndian.AppendUint32(head, uint32(len(meta)))
	head = append(head, meta...)
	head = binary.LittleEndian.AppendUint32(head, uint32(crate[0].Size))
	return t.sendBlob(ctx, http.MethodPut, t.endpoint("cargo", repo)+"api/v1/crates/new", "application/octet-stream", o, crate[0], head, nil)
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
		if err := t.sendBlob(ctx, http.MethodPut, dir+versionDir+"/"+a.Name, "application/octet-stream", o, a, nil, nil); err != nil {
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
		return t.sendBytes(ctx, http.MethodPut, dir+v.Snapshot+"/maven-metadata.xml", "application/xml", []byte(meta))
	}
	meta := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>" + xmlText(p.Namespace) + "</groupId>\n  <artifactId>" + xmlText(p.Name) +
		"</artifactId>\n  <versioning>\n    <versions>\n      <version>" + xmlText(v.Version) + "</version>\n    </versions>\n  </versioning>\n</metadata>\n"
	return t.sendBytes(ctx, http.MethodPut, dir+"maven-metadata.xml", "application/xml", []byte(meta))
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
