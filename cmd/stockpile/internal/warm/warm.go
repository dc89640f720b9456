package warm

import (
	"bytes"
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
	"net/url"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// maxDocument bounds a metadata document read into memory.
const maxDocument = 64 << 20

// Options configure a run.
type Options struct {
	// Base is Stockpile's URL, http://host:port.
	Base               string
	Domain, Repository string
	// Token is presented as a Bearer token.
	Token string
	HTTP  *http.Client
	// Jobs is how many artifacts are fetched at once.
	Jobs int
	// Progress is told of every artifact done; nil reports nothing.
	Progress Progress
	// Holdings, when set, tells what the repository already holds of an
	// artifact: an artifact held, with a file matching the lockfile's
	// hashes when it has some, is not downloaded again.
	Holdings Holdings
}

// Holdings returns the digests of each asset the repository holds of an
// artifact's version, none when it holds none.
type Holdings func(ctx context.Context, a Artifact) ([][]Digest, error)

// Result is one artifact done.
type Result struct {
	Artifact Artifact
	// Cached is an artifact the repository already held.
	Cached bool
	Files  int
	Bytes  int64
	Err    error
}

// Summary is a run's outcome.
type Summary struct {
	Artifacts, Fetched, Cached, Failed int
	Files                              int
	Bytes                              int64
	Failures                           []Result
}

// Progress is told how a run goes.
type Progress interface {
	Start(total int)
	Done(r Result)
	Finish(s Summary)
}

// Run fetches every artifact through the repository, Jobs at a time, each
// file verified against the digests the lockfile and the repository give.
func Run(ctx context.Context, o Options, arts []Artifact) Summary {
	if o.Jobs <= 0 {
		o.Jobs = 8
	}
	if o.HTTP == nil {
		o.HTTP = http.DefaultClient
	}
	f := &fetcher{o: o, docs: map[string]*docCall{}}
	if o.Progress != nil {
		o.Progress.Start(len(arts))
	}
	results := make([]Result, len(arts))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Jobs)
	for i, a := range arts {
		g.Go(func() error {
			var r Result
			if f.held(gctx, a) {
				r = Result{Artifact: a, Cached: true}
			} else {
				files, n, err := f.fetch(gctx, a)
				r = Result{Artifact: a, Files: files, Bytes: n, Err: err}
			}
			results[i] = r
			if o.Progress != nil {
				mu.Lock()
				o.Progress.Done(r)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	s := Summary{Artifacts: len(arts)}
	for _, r := range results {
		s.Files += r.Files
		s.Bytes += r.Bytes
		switch {
		case r.Err != nil:
			s.Failed++
			s.Failures = append(s.Failures, r)
		case r.Cached:
			s.Cached++
		default:
			s.Fetched++
		}
	}
	if o.Progress != nil {
		o.Progress.Finish(s)
	}
	return s
}

// held reports whether the repository holds the artifact already: some
// asset of its version, one matching the lockfile's digests when it has
// some. Any doubt (an error, no match) means fetching it.
func (f *fetcher) held(ctx context.Context, a Artifact) bool {
	if f.o.Holdings == nil {
		return false
	}
	assets, err := f.o.Holdings(ctx, a)
	if err != nil || len(assets) == 0 {
		return false
	}
	if len(a.Digests) == 0 {
		return true
	}
	for _, ds := range assets {
		if anyEqual(a.Digests, ds) {
			return true
		}
	}
	return false
}

type fetcher struct {
	o    Options
	mu   sync.Mutex
	docs map[string]*docCall // metadata documents by URL, fetched once
}

type docCall struct {
	done chan struct{}
	body []byte
	err  error
}

// endpoint is the repository's endpoint for a format.
func (f *fetcher) endpoint(format string) string {
	return strings.TrimRight(f.o.Base, "/") + "/" + f.o.Domain + "/" + format + "/" + f.o.Repository + "/"
}

func (f *fetcher) fetch(ctx context.Context, a Artifact) (files int, n int64, err error) {
	var urls []fileURL
	switch a.Format {
	case "npm":
		urls, err = f.npmFiles(ctx, a)
	case "pypi":
		urls, err = f.pypiFiles(ctx, a)
	case "cargo":
		urls, err = f.cargoFiles(ctx, a)
	case "ruby":
		urls, err = f.gemFiles(ctx, a)
	case "nuget":
		urls, err = f.nugetFiles(ctx, a)
	case "maven":
		urls, err = f.mavenFiles(ctx, a)
	default:
		err = fmt.Errorf("format %s is not warmed", a.Format)
	}
	if err != nil {
		return 0, 0, err
	}
	for _, u := range urls {
		m, err := f.download(ctx, u)
		if err != nil {
			return files, n, err
		}
		files++
		n += m
	}
	return files, n, nil
}

// fileURL is a file to download and the digests it must match (any one of
// each group: the lockfile's, the repository's).
type fileURL struct {
	url    string
	expect [][]Digest
}

// get sends an authorised GET.
func (f *fetcher) get(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if f.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.o.Token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := f.o.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// doc fetches a metadata document once per run.
func (f *fetcher) doc(ctx context.Context, u, accept string) ([]byte, error) {
	f.mu.Lock()
	c, ok := f.docs[u]
	if !ok {
		c = &docCall{done: make(chan struct{})}
		f.docs[u] = c
	}
	f.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.body, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer close(c.done)
	resp, err := f.get(ctx, u, accept)
	if err != nil {
		c.err = err
		return nil, err
	}
	defer resp.Body.Close()
	c.body, c.err = io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	return c.body, c.err
}

// download reads a file through, hashing it, and checks the digests.
func (f *fetcher) download(ctx context.Context, u fileURL) (int64, error) {
	resp, err := f.get(ctx, u.url, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	hs := map[string]hash.Hash{"sha1": sha1.New(), "sha256": sha256.New(), "sha512": sha512.New()}
	w := io.MultiWriter(hs["sha1"], hs["sha256"], hs["sha512"])
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", u.url, err)
	}
	for _, group := range u.expect {
		if err := verify(group, hs); err != nil {
			return n, fmt.Errorf("%s: %w", u.url, err)
		}
	}
	return n, nil
}

// verify checks that one of the digests of group we can compute matches;
// a group of algorithms we do not compute passes.
func verify(group []Digest, hs map[string]hash.Hash) error {
	checked := false
	for _, d := range group {
		h, ok := hs[d.Algo]
		if !ok {
			continue
		}
		checked = true
		if bytes.Equal(h.Sum(nil), d.Sum) {
			return nil
		}
	}
	if !checked {
		return nil
	}
	return fmt.Errorf("integrity check failed: the file's %s is %s, not the %s the lockfile gives", group[0].Algo, hex.EncodeToString(hs[group[0].Algo].Sum(nil)), hex.EncodeToString(group[0].Sum))
}

// ErrNotFound is an artifact the repository does not know.
var ErrNotFound = errors.New("not found")

// npmFiles reads the packument for the tarball of the version
// (https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md).
func (f *fetcher) npmFiles(ctx context.Context, a Artifact) ([]fileURL, error) {
	b, err := f.doc(ctx, f.endpoint("npm")+strings.Replace(a.Name, "/", "%2f", 1), "application/json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Versions map[string]struct {
			Dist struct {
				Tarball   string `json:"tarball"`
				Integrity string `json:"integrity"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: the packument is not JSON: %w", a.Name, err)
	}
	v, ok := doc.Versions[a.Version]
	if !ok || v.Dist.Tarball == "" {
		return nil, fmt.Errorf("%s@%s: %w in the repository", a.Name, a.Version, ErrNotFound)
	}
	fu := fileURL{url: v.Dist.Tarball}
	if len(a.Digests) > 0 {
		fu.expect = append(fu.expect, a.Digests)
	}
	if d := sri(v.Dist.Integrity); len(d) > 0 {
		fu.expect = append(fu.expect, d)
	}
	return []fileURL{fu}, nil
}

// pep503 normalises a project name (PEP 503).
func pep503(name string) string {
	return strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "-"))
}

// pypiFiles reads the project's simple page in JSON (PEP 691) for the
// files of the version: those matching the lockfile's hashes when it has
// some, else every file of the version.
func (f *fetcher) pypiFiles(ctx context.Context, a Artifact) ([]fileURL, error) {
	page := f.endpoint("pypi") + "simple/" + pep503(a.Name) + "/"
	b, err := f.doc(ctx, page, "application/vnd.pypi.simple.v1+json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Files []struct {
			Filename string            `json:"filename"`
			URL      string            `json:"url"`
			Hashes   map[string]string `json:"hashes"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: the simple page is not JSON: %w", a.Name, err)
	}
	base, _ := url.Parse(page)
	var out []fileURL
	for _, file := range doc.Files {
		if !pypiFileOf(file.Filename, a.Name, a.Version) {
			continue
		}
		var repo []Digest
		for algo, h := range file.Hashes {
			if sum, err := hex.DecodeString(h); err == nil {
				repo = append(repo, Digest{Algo: algo, Sum: sum})
			}
		}
		if len(a.Digests) > 0 && !anyEqual(a.Digests, repo) {
			continue // another file of the version than the lockfile allows
		}
		ref, err := url.Parse(file.URL)
		if err != nil {
			continue
		}
		fu := fileURL{url: base.ResolveReference(ref).String()}
		if len(repo) > 0 {
			fu.expect = append(fu.expect, repo)
		}
		if len(a.Digests) > 0 {
			fu.expect = append(fu.expect, a.Digests)
		}
		out = append(out, fu)
	}
	if len(out) == 0 {
		what := "no file of the version"
		if len(a.Digests) > 0 {
			what = "no file with the lockfile's hashes"
		}
		return nil, fmt.Errorf("%s==%s: %w: %s in the repository", a.Name, a.Version, ErrNotFound, what)
	}
	return out, nil
}

// pypiFileOf reports whether a distribution file is of name and version:
// {name}-{version}-….whl (PEP 427) or {name}-{version}.tar.gz/.zip.
func pypiFileOf(filename, name, version string) bool {
	stem := filename
	for _, ext := range []string{".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"} {
		if s, ok := strings.CutSuffix(stem, ext); ok {
			stem = s
			break
		}
	}
	n := pep503(name)
	for i := 0; i < len(stem); i++ {
		if stem[i] != '-' {
			continue
		}
		if pep503(stem[:i]) != n {
			continue
		}
		rest := stem[i+1:]
		v, _, _ := strings.Cut(rest, "-")
		return strings.EqualFold(v, version)
	}
	return false
}

func anyEqual(a, b []Digest) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Algo == y.Algo && bytes.Equal(x.Sum, y.Sum) {
				return true
			}
		}
	}
	return false
}

// cargoFiles reads the crate's sparse index file, as cargo does, and
// downloads the .crate from the index's dl template
// (https://doc.rust-lang.org/cargo/reference/registry-index.html).
func (f *fetcher) cargoFiles(ctx context.Context, a Artifact) ([]fileURL, error) {
	ep := f.endpoint("cargo")
	cfg, err := f.doc(ctx, ep+"config.json", "application/json")
	if err != nil {
		return nil, err
	}
	var conf struct {
		DL string `json:"dl"`
	}
	if err := json.Unmarshal(cfg, &conf); err != nil || conf.DL == "" {
		return nil, fmt.Errorf("the index's config.json has no dl")
	}
	lower := strings.ToLower(a.Name)
	idx, err := f.doc(ctx, ep+cargoIndexDir(lower)+"/"+lower, "")
	if err != nil {
		return nil, err
	}
	var cksum []byte
	for _, line := range bytes.Split(idx, []byte("\n")) {
		var e struct {
			Vers  string `json:"vers"`
			Cksum string `json:"cksum"`
		}
		if json.Unmarshal(line, &e) == nil && e.Vers == a.Version {
			cksum, _ = hex.DecodeString(e.Cksum)
		}
	}
	if cksum == nil {
		return nil, fmt.Errorf("%s %s: %w in the index", a.Name, a.Version, ErrNotFound)
	}
	fu := fileURL{url: cargoDL(conf.DL, a.Name, a.Version, hex.EncodeToString(cksum)), expect: [][]Digest{{{Algo: "sha256", Sum: cksum}}}}
	if len(a.Digests) > 0 {
		fu.expect = append(fu.expect, a.Digests)
	}
	return []fileURL{fu}, nil
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

// cargoDL fills the dl template of config.json.
func cargoDL(dl, name, version, sum string) string {
	if !strings.Contains(dl, "{") {
		return strings.TrimRight(dl, "/") + "/" + name + "/" + version + "/download"
	}
	lower := strings.ToLower(name)
	prefix := cargoIndexDir(lower)
	return strings.NewReplacer("{crate}", name, "{version}", version, "{prefix}", prefix,
		"{lowerprefix}", prefix, "{sha256-checksum}", sum).Replace(dl)
}

// gemFiles reads what Bundler reads of the compact index (/versions once,
// /info/{gem}) and returns the .gem of the version:
// /gems/{name}-{version}[-{platform}].gem
// (https://guides.rubygems.org/rubygems-org-compact-index-api/).
func (f *fetcher) gemFiles(ctx context.Context, a Artifact) ([]fileURL, error) {
	ep := f.endpoint("ruby")
	if _, err := f.doc(ctx, ep+"versions", "text/plain"); err != nil {
		return nil, err
	}
	if _, err := f.doc(ctx, ep+"info/"+a.Name, "text/plain"); err != nil {
		return nil, err
	}
	file := a.Name + "-" + a.Version
	if a.Platform != "" {
		file += "-" + a.Platform
	}
	fu := fileURL{url: ep + "gems/" + file + ".gem"}
	if len(a.Digests) > 0 {
		fu.expect = append(fu.expect, a.Digests)
	}
	return []fileURL{fu}, nil
}

// nugetFiles finds the .nupkg in the PackageBaseAddress resource of the
// repository's service index
// (https://learn.microsoft.com/nuget/api/package-base-address-resource):
// {base}{id}/{version}/{id}.{version}.nupkg, lower-case.
func (f *fetcher) nugetFiles(ctx context.Context, a Artifact) ([]fileURL, error) {
	b, err := f.doc(ctx, f.endpoint("nuget")+"v3/index.json", "application/json")
	if err != nil {
		return nil, err
	}
	var idx struct {
		Resources []struct {
			ID   string `json:"@id"`
			Type string `json:"@type"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("the service index: %w", err)
	}
	base := ""
	for _, r := range idx.Resources {
		if r.Type == "PackageBaseAddress/3.0.0" {
			base = r.ID
		}
	}
	if base == "" {
		return nil, fmt.Errorf("the service index has no PackageBaseAddress/3.0.0")
	}
	id, v := strings.ToLower(a.Name), strings.ToLower(a.Version)
	fu := fileURL{url: strings.TrimRight(base, "/") + "/" + id + "/" + v + "/" + id + "." + v + ".nupkg"}
	if len(a.Digests) > 0 {
		fu.expect = append(fu.expect, a.Digests)
	}
	return []fileURL{fu}, nil
}

// mavenFiles are the POM and the artifact's file of a Maven version, each
// checked against the repository's .sha1 sidecar
// (https://maven.apache.org/repository/layout.html).
func (f *fetcher) mavenFiles(ctx context.Context, a Artifact) ([]fileURL, error) {
	group, artifact, ok := strings.Cut(a.Name, ":")
	if !ok {
		return nil, fmt.Errorf("%s: not group:artifact", a.Name)
	}
	typ, classifier, _ := strings.Cut(a.Platform, ":")
	ext := typ
	switch typ {
	case "", "bundle", "maven-plugin", "ejb", "test-jar":
		ext = "jar"
		if typ == "test-jar" && classifier == "" {
			classifier = "tests"
		}
	}
	dir := f.endpoint("maven") + strings.ReplaceAll(group, ".", "/") + "/" + artifact + "/" + a.Version + "/"
	base := artifact + "-" + a.Version
	names := []string{base + ".pom"}
	if file := base + suffix(classifier) + "." + ext; ext != "pom" {
		names = append(names, file)
	}
	var out []fileURL
	for _, n := range names {
		sum, err := f.doc(ctx, dir+n+".sha1", "")
		if err != nil {
			return nil, err
		}
		hx, _, _ := strings.Cut(strings.TrimSpace(string(sum)), " ")
		d, err := hex.DecodeString(hx)
		if err != nil || len(d) != sha1.Size {
			return nil, fmt.Errorf("%s.sha1 is not a SHA-1", dir+n)
		}
		out = append(out, fileURL{url: dir + n, expect: [][]Digest{{{Algo: "sha1", Sum: d}}}})
	}
	return out, nil
}

func suffix(classifier string) string {
	if classifier == "" {
		return ""
	}
	return "-" + classifier
}
