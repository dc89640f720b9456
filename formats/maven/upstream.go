package maven

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// metadataAccept is the Accept header of upstream metadata requests (part
// of the engine's cache key: keep it constant).
const metadataAccept = "application/xml, text/xml;q=0.9, */*;q=0.1"

// pomAccept is the Accept header of the POM requests that date versions.
const pomAccept = "application/xml, text/xml;q=0.9, */*;q=0.1"

// checksumAccept is the Accept header of upstream checksum requests.
const checksumAccept = "text/plain, */*;q=0.1"

// ref turns a path below the connection URL into a reference that resolves
// against it whatever the path holds (a ':' in a first segment would read
// as a URL scheme).
func ref(path string) string { return "./" + path }

// FetchMetadata implements formats.Format. For an artifact it reads
// {g}/{a}/maven-metadata.xml and returns its release versions: snapshots
// are never taken from an external connection. The files of a version are
// not listed there; LocateAsset finds them when asked. For the group-level
// pseudo-package (Name "") it reads {g}/maven-metadata.xml and returns one
// "version" per plugin, keyed by artifactId, so the engine's merge is the
// union of every connection's plugins.
func (f *Format) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	dir := groupPath(p.Namespace)
	if p.Name != "" {
		dir += "/" + p.Name
	}
	doc, err := g.Get(ctx, ref(dir+"/"+metadataFile), metadataAccept)
	if err != nil {
		return nil, err
	}
	m, err := parseMetadata(doc.Body)
	if err != nil {
		// An error page or a broken document is a failing upstream, never
		// a list of versions (and never "not found").
		return nil, fmt.Errorf("maven: %s/%s: %v: %w", dir, metadataFile, err, upstream.ErrUnavailable)
	}
	md := &formats.Metadata{Versions: map[string]*formats.Version{}}
	if p.Name == "" {
		for _, pl := range m.Plugins {
			if pl.ArtifactID == "" || pl.Prefix == "" {
				continue
			}
			meta, _ := json.Marshal(pl)
			md.Versions[pl.ArtifactID] = &formats.Version{Version: pl.ArtifactID, Status: formats.StatusPublished, Meta: meta}
		}
		if len(md.Versions) == 0 {
			return nil, fmt.Errorf("maven: %s/%s lists no plugins: %w", dir, metadataFile, formats.ErrNotFound)
		}
		return md, nil
	}
	if m.Versioning == nil || (m.GroupID != "" && m.GroupID != p.Namespace) || (m.ArtifactID != "" && m.ArtifactID != p.Name) {
		// Group-level metadata at this path, or another artifact's: this
		// artifact is not there.
		return nil, fmt.Errorf("maven: %s/%s is not the metadata of %s:%s: %w", dir, metadataFile, p.Namespace, p.Name, formats.ErrNotFound)
	}
	for _, v := range m.Versioning.Versions {
		if v == "" || v == "null" || isSnapshot(v) || strings.ContainsAny(v, "/\\") {
			continue
		}
		md.Versions[v] = &formats.Version{Version: v, Status: formats.StatusPublished}
	}
	// lastUpdated is when the newest version was deployed: it is that
	// version's publish time, and says nothing of the older ones (a
	// release-age cooldown must not hold them all back when one is new).
	if v := md.Versions[newestListed(m.Versioning)]; v != nil {
		v.Published = parseLastUpdated(m.Versioning.LastUpdated)
	}
	if pt, ok := g.(formats.PublishTimer); ok && pt.PublishTimes() == formats.PublishTimesLastModified {
		if err := datePOMs(ctx, g, dir, p.Name, md); err != nil {
			return nil, err
		}
	}
	return md, nil
}

// Bounds of dating versions by their POMs.
const (
	// maxDatedVersions is how many of the newest versions are dated; older
	// ones keep what the metadata says (nothing), so missing_time decides.
	maxDatedVersions = 50
	// datingConcurrency bounds the POM requests in flight per artifact.
	datingConcurrency = 4
)

// datePOMs sets the publish time of the newest versions of md to the
// Last-Modified of their POMs, which Maven repositories (Central and the
// repository managers) answer with the time the file was deployed. The
// POMs are read through the document cache: one request per version per
// TTL, conditional after the first. A POM that is missing or has no
// Last-Modified leaves its version's time as it was; a failing upstream
// fails the metadata, as any metadata read does.
func datePOMs(ctx context.Context, g formats.Getter, dir, artifact string, md *formats.Metadata) error {
	vs := make([]string, 0, len(md.Versions))
	for v := range md.Versions {
		vs = append(vs, v)
	}
	sortVersions(vs)
	if len(vs) > maxDatedVersions {
		vs = vs[len(vs)-maxDatedVersions:]
	}
	dates := make([]time.Time, len(vs))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(datingConcurrency)
	for i, v := range vs {
		eg.Go(func() error {
			doc, err := g.Get(ectx, ref(dir+"/"+v+"/"+artifact+"-"+v+".pom"), pomAccept)
			if errors.Is(err, upstream.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			dates[i] = doc.LastModified
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("maven: dating the versions of %s by their POMs: %w", dir, err)
	}
	for i, v := range vs {
		if !dates[i].IsZero() {
			md.Versions[v].Published = dates[i]
		}
	}
	return nil
}

var _ formats.AssetLocator = (*Format)(nil)

// sidecarAlgos are the upstream checksums LocateAsset looks for, in order:
// Central always has .sha1; stronger ones are tried when it is missing.
var sidecarAlgos = []string{"sha1", "sha256", "sha512"}

// LocateAsset implements formats.AssetLocator: the file's upstream URL is
// its layout path, and the digest to verify it against is the upstream's
// .sha1 sidecar (or .sha256, .sha512), read through the engine's document
// cache. Without any sidecar the file's existence is checked with a HEAD, so
// that a file the upstream does not have is a 404 rather than an upstream
// fault. Snapshots are never taken from an external connection.
func (f *Format) LocateAsset(ctx context.Context, g formats.Getter, p formats.Package, version, name string) (*formats.AssetRef, error) {
	if p.Name == "" || isSnapshot(version) || buildVersionRE.MatchString(version) {
		return nil, fmt.Errorf("maven: snapshots are not taken from external connections: %w", formats.ErrNotFound)
	}
	path := groupPath(p.Namespace) + "/" + p.Name + "/" + version + "/" + name
	a := &formats.AssetRef{Name: name, URL: ref(path)}
	for _, algo := range sidecarAlgos {
		doc, err := g.Get(ctx, ref(path+"."+algo), checksumAccept)
		if errors.Is(err, formats.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sum, ok := parseSidecar(doc.Body, algo)
		if !ok {
			continue // a sidecar we cannot read is no promise either way
		}
		switch algo {
		case "sha1":
			a.Digests.SHA1 = sum
		case "sha256":
			a.Digests.SHA256 = sum
		case "sha512":
			a.Digests.SHA512 = sum
		}
		return a, nil
	}
	resp, err := g.Do(ctx, http.MethodHead, ref(path), nil, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("maven: %s: %w", path, formats.ErrNotFound)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return a, nil
	}
	return nil, fmt.Errorf("maven: HEAD %s answered %d: %w", path, resp.StatusCode, upstream.ErrUnavailable)
}

// digestLen is the hex length of each algorithm's digest.
var digestLen = map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}

// parseSidecar reads a checksum file: the bare hex digest, or the digest
// followed by a file name ("hex  name"), or BSD style ("SHA1 (name) = hex").
func parseSidecar(b []byte, algo string) (string, bool) {
	for _, field := range strings.Fields(string(b)) {
		if len(field) == digestLen[algo] {
			if _, err := hex.DecodeString(field); err == nil {
				return strings.ToLower(field), true
			}
		}
	}
	return "", false
}

// newestListed is the version a metadata document names as its newest
// deployment: <release>, else <latest>, else the last one of <versions>
// (repositories append each deployment).
func newestListed(v *xmlVersioning) string {
	switch {
	case v.Release != "":
		return v.Release
	case v.Latest != "" && !isSnapshot(v.Latest):
		return v.Latest
	}
	for i := len(v.Versions) - 1; i >= 0; i-- {
		if !isSnapshot(v.Versions[i]) {
			return v.Versions[i]
		}
	}
	return ""
}
