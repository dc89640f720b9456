package maven

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// handler serves one mounted repository group.
type handler struct {
	res formats.Resolver
}

// sum returns a rendered document's checksum, computed once per document.
func (h *handler) sum(doc *formats.Rendered, algo string) string {
	return doc.Derived("maven.sum."+algo, func() any { return digest(doc.Body, algo) }).(string)
}

// metadataCacheControl: metadata changes when a version is published or an
// upstream's list changes; clients revalidate it (ETag) on every use.
const metadataCacheControl = "no-cache"

// versionMeta is what the format keeps in a hosted version's Meta.
type versionMeta struct {
	// Snapshot is the snapshot version (1.0-SNAPSHOT) of a snapshot build.
	Snapshot string `json:"snapshot,omitempty"`
	// BadChecksums lists the files whose uploaded checksum did not match
	// ("widget-1.0.jar.sha1"): the metadata upload that would publish the
	// version is refused while any is left.
	BadChecksums []string `json:"badChecksums,omitempty"`
}

func readMeta(raw json.RawMessage) versionMeta {
	var m versionMeta
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

func (m versionMeta) raw() json.RawMessage {
	b, _ := json.Marshal(m)
	return b
}

// packageExtra is what the format keeps in a hosted package's Extra.
type packageExtra struct {
	// Plugin is the package's entry in its group-level metadata, when it is
	// a Maven plugin deployed here.
	Plugin *xmlPlugin `json:"plugin,omitempty"`
}

// restPath returns the URL path below the repository endpoint.
func restPath(c echo.Context) string {
	if rest, ok := formats.RepoFrom(c).Below(c.Request().URL.Path); ok {
		return rest
	}
	return c.Param("*")
}

// serve dispatches every request of the group.
func (h *handler) serve(c echo.Context) error {
	req := c.Request()
	p, err := parsePath(restPath(c))
	get := req.Method == http.MethodGet || req.Method == http.MethodHead
	if err != nil {
		if get && errors.Is(err, formats.ErrInvalid) {
			// Gradle lists directories when metadata is missing: a path
			// outside the layout is absent, not a bad request, for reads.
			return fmt.Errorf("%w: maven: no such file", formats.ErrNotFound)
		}
		return err
	}
	switch {
	case get:
		return h.get(c, p)
	case req.Method == http.MethodPut:
		return h.put(c, p)
	}
	return formats.MethodNotAllowed(c, "maven", "GET", "HEAD", "PUT")
}

func (h *handler) get(c echo.Context, p *mavenPath) error {
	switch p.kind {
	case kindPrefixes:
		// A repository with upstreams has no prefix list it could vouch
		// for (not every upstream publishes one): Maven 4 then asks for
		// every path, as it must.
		return fmt.Errorf("%w: maven: this repository publishes no prefix list", formats.ErrNotFound)
	case kindMetadata:
		return h.getMetadata(c, p)
	case kindSnapshotMetadata:
		return h.getSnapshotMetadata(c, p)
	}
	return h.getFile(c, p)
}

// getFile serves a file of a version, or its checksum.
func (h *handler) getFile(c echo.Context, p *mavenPath) error {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	pk := pkg(p.group, p.artifact)
	version, file := p.build, p.file
	if version == "" {
		// foo-1.0-SNAPSHOT.jar: the newest build's file.
		b, err := h.newestBuild(ctx, ref, pk, p.dir)
		if err != nil {
			return err
		}
		version, file = b.Version, p.artifact+"-"+b.Version+p.suffix
	}
	if p.checksum != "" {
		content, err := h.res.Open(ctx, ref, pk, version, file)
		if err != nil {
			return err
		}
		sums := content.Sums()
		content.Close()
		return serveChecksum(c, sumOf(sums, p.checksum))
	}
	c.Response().Header().Set("Content-Type", contentType(file))
	return h.res.ServeAsset(c.Response(), c.Request(), ref, pk, version, file)
}

func sumOf(s formats.Sums, algo string) string {
	switch algo {
	case "md5":
		return s.MD5
	case "sha1":
		return s.SHA1
	case "sha256":
		return s.SHA256
	}
	return s.SHA512
}

func contentType(file string) string {
	ext := file[strings.LastIndexByte(file, '.')+1:]
	switch ext {
	case "jar", "war", "ear", "aar":
		return "application/java-archive"
	case "pom", "xml":
		return "text/xml"
	case "module", "json":
		return "application/json"
	case "asc":
		return "application/pgp-signature"
	case "zip":
		return "application/zip"
	}
	return "application/octet-stream"
}

func serveChecksum(c echo.Context, sum string) error {
	h := c.Response().Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+sum+`"`)
	formats.ServeBytes(c, []byte(sum))
	return nil
}

// serveDocument answers with a generated document or one of its checksums.
func (h *handler) serveDocument(c echo.Context, doc *formats.Rendered, algo string) error {
	hd := c.Response().Header()
	hd.Set("Cache-Control", metadataCacheControl)
	if algo != "" {
		sum := h.sum(doc, algo)
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		hd.Set("ETag", `"`+sum+`"`)
		formats.ServeBytes(c, []byte(sum))
		return nil
	}
	// The checksums are of the document itself, whatever its coding: what
	// the client checks once its HTTP library has decoded the body.
	hd.Set("X-Checksum-Sha1", h.sum(doc, "sha1"))
	hd.Set("X-Checksum-Md5", h.sum(doc, "md5"))
	if doc.Gzip != nil && c.Request().Header.Get("Range") == "" {
		// Compressed when asked (Maven's HTTP transports ask for gzip),
		// with its own validator; a range is of the identity bytes.
		return formats.ServeRendered(c, doc, metadataCacheControl, "")
	}
	hd.Set("Content-Type", doc.ContentType)
	if doc.ETag != "" {
		hd.Set("ETag", doc.ETag)
	}
	formats.ServeBytes(c, doc.Body)
	return nil
}

func digest(b []byte, algo string) string {
	var hh hash.Hash
	switch algo {
	case "md5":
		hh = md5.New()
	case "sha1":
		hh = sha1.New()
	case "sha256":
		hh = sha256.New()
	default:
		hh = sha512.New()
	}
	hh.Write(b)
	return hex.EncodeToString(hh.Sum(nil))
}

// getMetadata serves {dirs}/maven-metadata.xml: the artifact's when a
// repository reached knows the artifact, else the group's plugin list.
func (h *handler) getMetadata(c echo.Context, p *mavenPath) error {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	if pk, ok := p.artifactCandidate(); ok {
		doc, err := h.artifactMetadata(ctx, ref, pk)
		if err == nil {
			return h.serveDocument(c, doc, p.checksum)
		}
		if !errors.Is(err, formats.ErrNotFound) {
			return err
		}
	}
	body, err := h.groupMetadata(ctx, ref, p.groupCandidate())
	if err != nil {
		return err
	}
	doc := &formats.Rendered{Body: body, ContentType: "application/xml", ETag: `"` + digest(body, "sha256")[:32] + `"`}
	return h.serveDocument(c, doc, p.checksum)
}

var errNoListedVersion = fmt.Errorf("%w: maven: no published version", formats.ErrNotFound)

// artifactMetadata renders the artifact-level metadata of pk from the
// merged view: Published versions only (Unfinished, Unlisted and Archived
// ones are left out), a hosted snapshot build listed as its snapshot
// version, lastUpdated the newest publication among them.
func (h *handler) artifactMetadata(ctx context.Context, ref formats.RepoRef, pk formats.Package) (*formats.Rendered, error) {
	return h.res.Render(ctx, ref, pk, "maven-metadata.xml", func(v *formats.View) (*formats.Rendered, error) {
		m := artifactMetadata{Group: pk.Namespace, Artifact: pk.Name}
		seen := map[string]bool{}
		for ver, vv := range v.Versions {
			if !vv.Status.Listed() {
				continue
			}
			if s := readMeta(vv.Meta).Snapshot; s != "" && vv.Connection == "" {
				ver = s
			}
			if !seen[ver] {
				seen[ver] = true
				m.Versions = append(m.Versions, ver)
			}
			if vv.Published.After(m.LastUpdated) {
				m.LastUpdated = vv.Published
			}
		}
		if len(m.Versions) == 0 {
			return nil, errNoListedVersion
		}
		return &formats.Rendered{Body: m.render(), ContentType: "application/xml"}, nil
	})
}

// groupMetadata builds {g}/maven-metadata.xml: the union of the plugin
// lists of every external connection reached (the pseudo-package with no
// name) and of the plugins deployed in the repositories reached.
func (h *handler) groupMetadata(ctx context.Context, ref formats.RepoRef, group string) ([]byte, error) {
	plugins := map[string]xmlPlugin{}
	v, viewErr := h.res.View(ctx, ref, pkg(group, ""))
	if viewErr == nil {
		for _, vv := range v.Versions {
			var pl xmlPlugin
			if vv.Status.Listed() && json.Unmarshal(vv.Meta, &pl) == nil && pl.ArtifactID != "" && pl.Prefix != "" {
				plugins[pl.ArtifactID] = pl
			}
		}
	} else if !errors.Is(viewErr, formats.ErrNotFound) {
		return nil, viewErr
	}
	pkgs, err := h.res.Packages(ctx, ref, "maven")
	if err != nil {
		return nil, err
	}
	for _, pk := range pkgs {
		if pk.Namespace != group || pk.Name == "" {
			continue
		}
		pv, err := h.res.View(ctx, ref, pk)
		if err != nil {
			continue
		}
		var extra packageExtra
		if json.Unmarshal(pv.Extra, &extra) == nil && extra.Plugin != nil {
			plugins[extra.Plugin.ArtifactID] = *extra.Plugin
		}
	}
	if len(plugins) == 0 {
		return nil, fmt.Errorf("%w: maven: no metadata for %s", formats.ErrNotFound, group)
	}
	list := make([]xmlPlugin, 0, len(plugins))
	for _, pl := range plugins {
		list = append(list, pl)
	}
	return renderPlugins(list), nil
}

// build is a hosted snapshot build found in a view.
type build struct {
	Version   string // 1.0-20240502.141207-3
	Timestamp string
	Number    int
	View      *formats.ViewVersion
}

// builds lists the hosted builds of snapshot version dir in v, newest first;
// with status set, only those of that status.
func builds(v *formats.View, dir string, status formats.Status) []build {
	var out []build
	for ver, vv := range v.Versions {
		if vv.Connection != "" || readMeta(vv.Meta).Snapshot != dir || (status != "" && vv.Status != status) {
			continue
		}
		_, ts, n, ok := splitBuild(ver)
		if !ok {
			continue
		}
		num, _ := strconv.Atoi(n)
		out = append(out, build{Version: ver, Timestamp: ts, Number: num, View: vv})
	}
	sortBuilds(out)
	return out
}

func sortBuilds(bs []build) {
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && newer(bs[j], bs[j-1]); j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

func newer(a, b build) bool {
	if a.Timestamp != b.Timestamp {
		return a.Timestamp > b.Timestamp
	}
	return a.Number > b.Number
}

// newestBuild returns the Published build of snapshot version dir.
func (h *handler) newestBuild(ctx context.Context, ref formats.RepoRef, pk formats.Package, dir string) (build, error) {
	v, err := h.res.View(ctx, ref, pk)
	if err != nil {
		return build{}, err
	}
	bs := builds(v, dir, formats.StatusPublished)
	if len(bs) == 0 {
		return build{}, fmt.Errorf("%w: maven: %s:%s has no published build of %s", formats.ErrNotFound, pk.Namespace, pk.Name, dir)
	}
	return bs[0], nil
}

// getSnapshotMetadata serves the version-level metadata of a hosted
// snapshot: the newest Published build and its files.
func (h *handler) getSnapshotMetadata(c echo.Context, p *mavenPath) error {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	pk := pkg(p.group, p.artifact)
	doc, err := h.res.Render(ctx, ref, pk, "snapshot-metadata.xml:"+p.dir, func(v *formats.View) (*formats.Rendered, error) {
		bs := builds(v, p.dir, formats.StatusPublished)
		if len(bs) == 0 {
			return nil, fmt.Errorf("%w: maven: %s:%s has no published build of %s", formats.ErrNotFound, pk.Namespace, pk.Name, p.dir)
		}
		b := bs[0]
		m := snapshotMetadata{Group: pk.Namespace, Artifact: pk.Name, Version: p.dir, Timestamp: b.Timestamp, BuildNumber: strconv.Itoa(b.Number)}
		prefix := pk.Name + "-" + b.Version
		for _, a := range b.View.Assets {
			suffix, ok := strings.CutPrefix(a.Name, prefix)
			if !ok || suffix == "" {
				continue
			}
			cl, ext := classifierExtension(suffix)
			m.Files = append(m.Files, snapshotFile{Classifier: cl, Extension: ext})
		}
		return &formats.Rendered{Body: m.render(), ContentType: "application/xml"}, nil
	})
	if err != nil {
		return err
	}
	return h.serveDocument(c, doc, p.checksum)
}
