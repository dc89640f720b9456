// Package bundle carries a repository's packages from one Stockpile to
// another in one file, for air-gapped sites and for seeding CI caches: a
// tar, zstd-compressed, whose first entry is manifest.json (packages,
// origin controls, versions with their statuses, assets with their
// SHA-256, npm dist-tags, the repositories' upstreams and external
// connections) and whose other entries are the assets, named
// blobs/sha256/HEX.
// Both ends talk to Stockpile's control plane and repository endpoints
// over HTTP, so either may be a live server.
package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
)

// Version of the bundle layout: 3 added external connections, npm
// dist-tags and Maven snapshot builds; a layout 2 bundle is read as one
// without them.
const Version = 3

// oldestVersion is the oldest layout Open reads.
const oldestVersion = 2

// ManifestName is the bundle's first entry.
const ManifestName = "manifest.json"

// Manifest describes a bundle: one repository, or every repository of a
// domain.
type Manifest struct {
	StockpileBundle int    `json:"stockpileBundle"`
	Domain          string `json:"domain"`
	Repositories    []Repo `json:"repositories"`
}

// Repo is one repository: its upstreams (by name, in order), external
// connections (public:npmjs) and packages.
type Repo struct {
	Name                string    `json:"name"`
	Upstreams           []string  `json:"upstreams,omitempty"`
	ExternalConnections []string  `json:"externalConnections,omitempty"`
	Packages            []Package `json:"packages"`
}

// Counts returns the bundle's packages, versions and assets.
func (m Manifest) Counts() (packages, versions, assets int) {
	for _, r := range m.Repositories {
		packages += len(r.Packages)
		for _, p := range r.Packages {
			versions += len(p.Versions)
			for _, v := range p.Versions {
				assets += len(v.Assets)
			}
		}
	}
	return
}

// Package is one package of the repository.
type Package struct {
	Format    string       `json:"format"`
	Namespace string       `json:"namespace,omitempty"`
	Name      string       `json:"package"`
	Origin    Restrictions `json:"origin"`
	// DistTags are an npm package's dist-tags that point at versions of
	// the bundle (latest included).
	DistTags map[string]string `json:"distTags,omitempty"`
	Versions []PkgVersion      `json:"versions"`
}

func (p Package) String() string {
	if p.Namespace != "" {
		return p.Format + " " + p.Namespace + "/" + p.Name
	}
	return p.Format + " " + p.Name
}

// Restrictions are a package's origin controls.
type Restrictions struct {
	Publish  string `json:"publish"`
	Upstream string `json:"upstream"`
}

// PkgVersion is one version and its assets.
type PkgVersion struct {
	Version string  `json:"version"`
	Status  string  `json:"status"`
	Assets  []Asset `json:"assets"`
	// CargoIndexLine is a crate version's line of the sparse index, which
	// publishing it again needs (its dependencies and features).
	CargoIndexLine json.RawMessage `json:"cargoIndexLine,omitempty"`
	// Snapshot is the snapshot version (1.0-SNAPSHOT) of a Maven snapshot
	// build (1.0-20240502.141207-3), which is deployed into the snapshot's
	// directory and named by its version-level metadata.
	Snapshot string `json:"snapshot,omitempty"`
}

// Asset is one file of a version.
type Asset struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BlobName is the bundle entry of an asset.
func BlobName(sha256 string) string { return "blobs/sha256/" + sha256 }

// Formats are the formats a bundle carries: those whose versions can be
// published again exactly as they were.
var Formats = []string{"generic", "npm", "pypi", "ruby", "nuget", "cargo", "maven"}

// ErrFormat is a package of a format bundles do not carry.
var ErrFormat = errors.New("bundles carry generic, npm, pypi, ruby, nuget, cargo and maven packages only")

// ControlPlane is the signed control plane the bundle uses.
type ControlPlane interface {
	Call(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, error)
	// Open returns an answer's body unread (an asset, streamed into the
	// bundle).
	Open(ctx context.Context, method, path string, q url.Values) (io.ReadCloser, error)
	// Send sends a body of size bytes whose hex SHA-256 is sum without
	// holding it (an asset, streamed from the bundle).
	Send(ctx context.Context, method, path string, q url.Values, body io.Reader, size int64, sum string) ([]byte, error)
}

// call sends a control-plane call and decodes its answer into out.
func call(ctx context.Context, cp ControlPlane, method, path string, q url.Values, in, out any) error {
	return cpclient.CallJSON(ctx, cp, method, path, q, in, out)
}

// Source reads a repository's endpoints (a crate's index file) with a
// token.
type Source struct {
	Base  string // http://host:port
	Token string
	HTTP  *http.Client
}

// get reads a document of a repository endpoint.
func (s Source) get(ctx context.Context, u string) ([]byte, error) {
	b, _, err := s.getStatus(ctx, u)
	return b, err
}

// getStatus is get that also returns the answer's status (0 when none
// came).
func (s Source) getStatus(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, resp.StatusCode, nil
}

// Progress is told how far a run is.
type Progress interface {
	Step(done, total int)
}

// pkgQuery is the query of a package's operations.
func pkgQuery(domain, repo string, p Package) url.Values {
	q := url.Values{"domain": {domain}, "repository": {repo}, "format": {p.Format}, "package": {p.Name}}
	if p.Namespace != "" {
		q.Set("namespace", p.Namespace)
	}
	return q
}
