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
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
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
	zw, err := zstd.NewWriter(w)
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
	var desc struct {
		Repository struct {
			Upstreams []struct {
				RepositoryName string `json:"repositoryName"`
			} `json:"upstreams"`
		} `json:"repository"`
	}
	if err := call(ctx, cp, http.MethodGet, "/v1/repository", url.Values{"domain": {domain}, "repository": {name}}, nil, &desc); err != nil {
		return r, fmt.Errorf("DescribeRepository %s: %w", name, err)
	}
	for _, u := range desc.Repository.Upstreams {
		r.Upstreams = append(r.Upstreams, u.RepositoryName)
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
			if p.Format == "maven" && strings.HasSuffix(v.Version, "-SNAPSHOT") {
				return r, fmt.Errorf("%s: %s %s: Maven snapshots are not carried (--lockfile or --format leave them out)", name, p, v.Version)
			}
			if p.Format == "cargo" {
				if v.CargoIndexLine, err = cargoIndexLine(ctx, src, domain, name, p.Name, v.Version); err != nil {
					return r, err
				}
			}
			p.Versions = append(p.Versions, v)
		}
		if len(p.Versions) > 0 || filter == nil {
			r.Packages = append(r.Packages, p)
		}
	}
	return r, nil
}

func writeEntry(tw *tar.Writer, name string, size int64, body func(io.Writer) error) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	return body(tw)
}

// copyAsset streams an asset into w, checking its SHA-256 and size.
func copyAsset(ctx context.Context, cp ControlPlane, domain, repo string, p Package, version string, a Asset, w io.Writer) error {
	q := pkgQuery(domain, repo, p)
	q.Set("version", version)
	q.Set("asset", a.Name)
	body, err := cp.Call(ctx, http.MethodGet, "/v1/package/version/asset", q, nil)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", p, version, a.Name, err)
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(body)) != a.Size {
		return fmt.Errorf("%s %s %s: the server sent %d bytes with SHA-256 %x, not the %d bytes with %s it lists", p, version, a.Name, len(body), sum, a.Size, a.SHA256)
	}
	_, err = w.Write(body)
	return err
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
			return nil, fmt.Errorf("ListPackageVersions %s: %w", p, err)
		}
		for _, v := range res.Versions {
			if v.Status == "Disposed" || v.Status == "Deleted" || v.Status == "Unfinished" {
				continue
			}
			assets, err := listAssets(ctx, cp, domain, repo, p, v.Version)
			if err != nil {
				return nil, err
			}
			if len(assets) > 0 {
				out = append(out, PkgVersion{Version: v.Version, Status: v.Status, Assets: assets})
			}
		}
		if res.NextToken == "" {
			return out, nil
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
