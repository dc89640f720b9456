package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
)

// Filter keeps a version of a package in the bundle; nil keeps all.
type Filter func(p Package, version string) bool

// Export writes the packages of the repositories repos of domain (of
// format only, when not empty; the versions filter keeps) and their
// assets to w. Every asset is read through GetPackageVersionAsset and
// checked against the SHA-256 the repository lists for it.
func Export(ctx context.Context, cp ControlPlane, src Source, domain string, repos []string, format string, filter Filter, w io.Writer, progress Progress) (Manifest, error) {
	m := Manifest{StockpileBundle: Version, Domain: domain}
	for _, name := range repos {
		r, err := exportRepo(ctx, cp, src, domain, name, format, filter)
		if err != nil {
			return m, err
		}
		m.Repositories = append(m.Repositories, r)
	}
	// One encoder goroutine with its lower-memory buffers: the export's
	// memory stays a few MiB whatever the assets' sizes.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return m, err
	}
	tw := tar.NewWriter(zw)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := writeEntry(tw, ManifestName, int64(len(mb)), func(w io.Writer) error { _, err := w.Write(mb); return err }); err != nil {
		return m, err
	}
	written := map[string]bool{}
	_, _, total := m.Counts()
	done := 0
	for _, r := range m.Repositories {
		for _, p := range r.Packages {
			for _, v := range p.Versions {
				for _, a := range v.Assets {
					done++
					if written[a.SHA256] {
						continue
					}
					written[a.SHA256] = true
					if err := writeEntry(tw, BlobName(a.SHA256), a.Size, func(w io.Writer) error {
						return copyAsset(ctx, cp, domain, r.Name, p, v.Version, a, w)
					}); err != nil {
						return m, err
					}
					if progress != nil {
						progress.Step(done, total)
					}
				}
			}
		}
	}
	if err := tw.Close(); err != nil {
		return m, err
	}
	return m, zw.Close()
}

// exportRepo lists a repository's upstreams, packages and versions.
func exportRepo(ctx context.Context, cp ControlPlane, src Source, domain, name, format string, filter Filter) (Repo, error) {
	r := Repo{Name: name}
	var err error
	if r.Upstreams, r.ExternalConnections, err = describeRepository(ctx, cp, domain, name); err != nil {
		return r, err
	}
	pkgs, err := listPackages(ctx, cp, domain, name, format)
	if err != nil {
		return r, err
	}
	for _, p := range pkgs {
		if !slices.Contains(Formats, p.Format) {
			return r, fmt.Errorf("%s: %s: %w (choose one with --format)", name, p, ErrFormat)
		}
		vs, err := listVersions(ctx, cp, domain, name, p)
		if err != nil {
			return r, err
		}
		for _, v := range vs {
			if filter != nil && !filter(p, v.Version) {
				continue
			}
			if p.Format == "maven" {
				if strings.HasSuffix(v.Version, "-SNAPSHOT") {
					return r, fmt.Errorf("%s: %s %s: a non-unique Maven snapshot cannot be deployed again (--lockfile or --format leave it out)", name, p, v.Version)
				}
				v.Snapshot = snapshotOf(v.Version)
			}
			if p.Format == "cargo" {
				if v.CargoIndexLine, err = cargoIndexLine(ctx, src, domain, name, p.Name, v.Version); err != nil {
					return r, err
				}
			}
			p.Versions = append(p.Versions, v)
		}
		if p.Format == "npm" && len(p.Versions) > 0 {
			if p.DistTags, err = distTags(ctx, src, domain, name, p); err != nil {
				return r, err
			}
		}
		if len(p.Versions) > 0 || filter == nil {
			r.Packages = append(r.Packages, p)
		}
	}
	return r, nil
}

// describeRepository returns a repository's upstreams and external
// connections.
func describeRepository(ctx context.Context, cp ControlPlane, domain, name string) (upstreams, connections []string, err error) {
	r, err := cpclient.DescribeRepository(ctx, cp, domain, name)
	if err != nil {
		return nil, nil, fmt.Errorf("DescribeRepository %s: %w", name, err)
	}
	return r.Upstreams, r.ExternalConnections, nil
}

// snapshotBuildRE is a Maven snapshot build's version, base-timestamp-n:
// Maven's own test for a unique snapshot version (ArtifactUtils,
// VERSION_FILE_PATTERN, https://maven.apache.org/ref/current/maven-artifact/).
var snapshotBuildRE = regexp.MustCompile(`^(.+)-([0-9]{8}\.[0-9]{6})-([0-9]+)$`)

// snapshotOf is the snapshot version (1.0-SNAPSHOT) of a snapshot build
// (1.0-20240502.141207-3), empty for a release.
func snapshotOf(version string) string {
	if m := snapshotBuildRE.FindStringSubmatch(version); m != nil {
		return m[1] + "-SNAPSHOT"
	}
	return ""
}

// npmName is an npm package's name as its clients write it.
func npmName(p Package) string {
	if p.Namespace != "" {
		return "@" + p.Namespace + "/" + p.Name
	}
	return p.Name
}

// distTags reads an npm package's dist-tags through the repository
// (https://docs.npmjs.com/cli/commands/npm-dist-tag) and keeps those that
// point at a version of the bundle.
func distTags(ctx context.Context, src Source, domain, repo string, p Package) (map[string]string, error) {
	u := strings.TrimRight(src.Base, "/") + "/" + domain + "/npm/" + repo + "/-/package/" + npmName(p) + "/dist-tags"
	b, status, err := src.getStatus(ctx, u)
	if status == http.StatusNotFound {
		return nil, nil // no version is listed
	}
	if err != nil {
		return nil, fmt.Errorf("%s: dist-tags: %w", p, err)
	}
	var all map[string]string
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("%s: dist-tags: %w", p, err)
	}
	tags := map[string]string{}
	for t, v := range all {
		if slices.ContainsFunc(p.Versions, func(pv PkgVersion) bool { return pv.Version == v }) {
			tags[t] = v
		}
	}
	return tags, nil
}

func writeEntry(tw *tar.Writer, name string, size int64, body func(io.Writer) error) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	return body(tw)
}

// copyAsset streams an asset from GetPackageVersionAsset into w (the
// bundle's tar entry, of a.Size bytes), hashing it in the same pass, and
// checks its SHA-256 and size: nothing of it is held in memory.
func copyAsset(ctx context.Context, cp ControlPlane, domain, repo string, p Package, version string, a Asset, w io.Writer) error {
	q := pkgQuery(domain, repo, p)
	q.Set("version", version)
	q.Set("asset", a.Name)
	body, err := cp.Open(ctx, http.MethodGet, "/v1/package/version/asset", q)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", p, version, a.Name, err)
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(body, a.Size))
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", p, version, a.Name, err)
	}
	if n == a.Size {
		// one byte more than listed is a different asset
		if extra, _ := io.CopyN(io.Discard, body, 1); extra > 0 {
			n++
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != a.SHA256 || n != a.Size {
		return fmt.Errorf("%s %s %s: the server sent %d bytes with SHA-256 %s, not the %d bytes with %s it lists", p, version, a.Name, n, sum, a.Size, a.SHA256)
	}
	return nil
}

func listPackages(ctx context.Context, cp ControlPlane, domain, repo, format string) ([]Package, error) {
	var out []Package
	next := ""
	for {
		q := url.Values{"domain": {domain}, "repository": {repo}, "max-results": {"1000"}}
		if format != "" {
			q.Set("format", format)
		}
		if next != "" {
			q.Set("next-token", next)
		}
		var res struct {
			Packages []struct {
				Format, Namespace, Package string
				OriginConfiguration        struct {
					Restrictions Restrictions `json:"restrictions"`
				} `json:"originConfiguration"`
			} `json:"packages"`
			NextToken string `json:"nextToken"`
		}
		if err := call(ctx, cp, http.MethodPost, "/v1/packages", q, nil, &res); err != nil {
			return nil, fmt.Errorf("ListPackages: %w", err)
		}
		for _, p := range res.Packages {
			out = append(out, Package{Format: p.Format, Namespace: p.Namespace, Name: p.Package, Origin: p.OriginConfiguration.Restrictions})
		}
		if res.NextToken == "" {
			return out, nil
		}
		next = res.NextToken
	}
}

// listVersions lists a package's versions and their assets; a version
// without assets (a Maven placeholder, a deleted one) is left out.
func listVersions(ctx context.Context, cp ControlPlane, domain, repo string, p Package) ([]PkgVersion, error) {
	var out []PkgVersion
	err := eachVersion(ctx, cp, domain, repo, p, func(version, status string) error {
		if status == "Disposed" || status == "Deleted" || status == "Unfinished" {
			return nil
		}
		assets, err := listAssets(ctx, cp, domain, repo, p, version)
		if err != nil {
			return err
		}
		if len(assets) > 0 {
			out = append(out, PkgVersion{Version: version, Status: status, Assets: assets})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachVersion calls fn with each version of p in repo and its status, a
// page of ListPackageVersions at a time. A missing package is the
// control plane's ResourceNotFoundException, wrapped.
func eachVersion(ctx context.Context, cp ControlPlane, domain, repo string, p Package, fn func(version, status string) error) error {
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
		if err := call(ctx, cp, http.MethodPost, "/v1/package/versions", q, nil, &res); err != nil {
			return fmt.Errorf("ListPackageVersions %s: %w", p, err)
		}
		for _, v := range res.Versions {
			if err := fn(v.Version, v.Status); err != nil {
				return err
			}
		}
		if res.NextToken == "" {
			return nil
		}
		next = res.NextToken
	}
}

func listAssets(ctx context.Context, cp ControlPlane, domain, repo string, p Package, version string) ([]Asset, error) {
	var out []Asset
	next := ""
	for {
		q := pkgQuery(domain, repo, p)
		q.Set("version", version)
		q.Set("max-results", "1000")
		if next != "" {
			q.Set("next-token", next)
		}
		var res struct {
			Assets []struct {
				Name   string            `json:"name"`
				Size   int64             `json:"size"`
				Hashes map[string]string `json:"hashes"`
			} `json:"assets"`
			NextToken string `json:"nextToken"`
		}
		if err := call(ctx, cp, http.MethodPost, "/v1/package/version/assets", q, nil, &res); err != nil {
			return nil, fmt.Errorf("ListPackageVersionAssets %s %s: %w", p, version, err)
		}
		for _, a := range res.Assets {
			out = append(out, Asset{Name: a.Name, Size: a.Size, SHA256: a.Hashes["SHA-256"]})
		}
		if res.NextToken == "" {
			return out, nil
		}
		next = res.NextToken
	}
}

// cargoIndexLine reads a crate version's line of the repository's sparse
// index (https://doc.rust-lang.org/cargo/reference/registry-index.html),
// under the spellings cargo tries: as listed, all '-', all '_'.
func cargoIndexLine(ctx context.Context, src Source, domain, repo, name, version string) (json.RawMessage, error) {
	var lastErr error
	for _, spelling := range []string{name, strings.ReplaceAll(name, "_", "-"), strings.ReplaceAll(name, "-", "_")} {
		lower := strings.ToLower(spelling)
		u := strings.TrimRight(src.Base, "/") + "/" + domain + "/cargo/" + repo + "/" + cargoIndexDir(lower) + "/" + lower
		b, err := src.get(ctx, u)
		if err != nil {
			lastErr = err
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			var e struct {
				Vers string `json:"vers"`
			}
			if json.Unmarshal(line, &e) == nil && e.Vers == version {
				return json.RawMessage(bytes.TrimSpace(line)), nil
			}
		}
		return nil, fmt.Errorf("cargo %s %s: not in the index", name, version)
	}
	return nil, fmt.Errorf("cargo %s: the index: %w", name, lastErr)
}

// cargoIndexDir is the index directory of a lower-case crate name.
func cargoIndexDir(name string) string {
	switch len(name) {
	case 1:
		return "1"
	case 2:
		return "2"
	case 3:
		return "3/" + name[:1]
	}
	return name[:2] + "/" + name[2:4]
}
