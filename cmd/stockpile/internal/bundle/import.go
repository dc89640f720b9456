package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
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
	// npm holds the SHA-1 and SHA-512 of npm tarballs (dist.shasum and
	// dist.integrity of their publish), computed while spooling.
	npm map[string]npmDigests
}

type npmDigests struct{ sha1, sha512 []byte }

// Blob opens one asset of the bundle, to be streamed.
func (o *Opened) Blob(sha256 string) (*os.File, error) {
	return os.Open(filepath.Join(o.Dir, sha256))
}

// maxWindow bounds the zstd window of a bundle Open reads.
const maxWindow = 32 << 20

// Open reads a bundle, spooling its blobs into dir, and verifies it
// before anything is imported: every entry's SHA-256 is the one its name
// gives, every asset of the manifest is there, and nothing else is.
func Open(r io.Reader, dir string) (*Opened, error) {
	// One decoder goroutine, and a window no larger than maxWindow: a
	// bundle cannot make the import hold more than that (Export writes
	// windows of 8 MiB).
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
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
	o := &Opened{Manifest: m, Dir: dir, npm: map[string]npmDigests{}}
	for _, r := range m.Repositories {
		for _, p := range r.Packages {
			if !slices.Contains(Formats, p.Format) {
				return nil, fmt.Errorf("%s: %w", p, ErrFormat)
			}
			for _, v := range p.Versions {
				for _, a := range v.Assets {
					want[a.SHA256] = a.Size
					if p.Format == "npm" {
						o.npm[a.SHA256] = npmDigests{}
					}
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
		var extra []hash.Hash
		if _, npm := o.npm[sum]; npm {
			extra = []hash.Hash{sha1.New(), sha512.New()}
		}
		if err := spool(tr, filepath.Join(dir, sum), sum, size, hdr.Name, extra...); err != nil {
			return nil, err
		}
		if extra != nil {
			o.npm[sum] = npmDigests{extra[0].Sum(nil), extra[1].Sum(nil)}
		}
		got[sum] = true
	}
	for sum := range want {
		if !got[sum] {
			return nil, fmt.Errorf("%w: %s is missing", ErrTampered, BlobName(sum))
		}
	}
	return o, nil
}

// spool copies one entry to path, hashing it in the same pass with
// SHA-256 (checked against sum and size) and with extra.
func spool(r io.Reader, path, sum string, size int64, name string, extra ...hash.Hash) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	ws := []io.Writer{f, h}
	for _, x := range extra {
		ws = append(ws, x)
	}
	n, err := io.Copy(io.MultiWriter(ws...), io.LimitReader(r, size+1))
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
	err := eachVersion(ctx, cp, domain, repo, p, func(version, status string) error {
		out[version] = status
		return nil
	})
	if isNotFound(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
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
