package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/klauspost/compress/zstd"
)

// Export writes the packages of domain/repo (of format only, when not
// empty) and their assets to w. Every asset is read through
// GetPackageVersionAsset and checked against the SHA-256 the repository
// lists for it.
func Export(ctx context.Context, cp ControlPlane, domain, repo, format string, w io.Writer, progress Progress) (Manifest, error) {
	m := Manifest{StockpileBundle: Version, Domain: domain, Repository: repo}
	pkgs, err := listPackages(ctx, cp, domain, repo, format)
	if err != nil {
		return m, err
	}
	for _, p := range pkgs {
		if !slices.Contains(Formats, p.Format) {
			return m, fmt.Errorf("%s: %w (choose one with --format)", p, ErrFormat)
		}
		if p.Versions, err = listVersions(ctx, cp, domain, repo, p); err != nil {
			return m, err
		}
		m.Packages = append(m.Packages, p)
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
	total, done := 0, 0
	for _, p := range m.Packages {
		for _, v := range p.Versions {
			total += len(v.Assets)
		}
	}
	for _, p := range m.Packages {
		for _, v := range p.Versions {
			for _, a := range v.Assets {
				done++
				if written[a.SHA256] {
					continue
				}
				written[a.SHA256] = true
				if err := writeEntry(tw, BlobName(a.SHA256), a.Size, func(w io.Writer) error {
					return copyAsset(ctx, cp, domain, repo, p, v.Version, a, w)
				}); err != nil {
					return m, err
				}
				if progress != nil {
					progress.Step(done, total)
				}
			}
		}
	}
	if err := tw.Close(); err != nil {
		return m, err
	}
	return m, zw.Close()
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
