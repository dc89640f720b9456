package pypi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

const demo = "stock-pile-demo"

// upstreamDists returns the fixtures of a project the fake PyPI offers, in
// page order.
func upstreamDists(fx *fixtureSet, project string) []*dist {
	var out []*dist
	for _, d := range fx.Dists {
		if d.Set == setUpstream && d.Project == project {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := compareVersions(out[i].Version, out[j].Version); c != 0 {
			return c < 0
		}
		return out[i].Filename < out[j].Filename
	})
	return out
}

// wantFile is the JSON entry Stockpile should give for a fixture.
func (e *env) wantFile(repo string, d *dist, yanked any, sized bool) jsonFileCheck {
	f := jsonFileCheck{Filename: d.Filename, URL: e.fileURL(repo, d), Hashes: map[string]string{"sha256": d.SHA256},
		RequiresPython: d.Spec.RequiresPython, Yanked: yanked}
	if sized {
		f.Size, f.UploadTime = int64(len(d.Body)), "2024-01-02T03:04:05.123456Z"
	}
	if d.Wheel {
		cm := map[string]any{"sha256": sha256Hex(d.Metadata)}
		f.CoreMetadata = cm
	}
	return f
}

func TestSimpleProjectPage(t *testing.T) {
	tests := []struct {
		name     string
		mode     string // what the fake upstream serves
		relative bool
	}{
		{name: "upstream serves JSON", mode: "negotiate"},
		{name: "upstream serves HTML only", mode: "html"},
		{name: "upstream HTML with relative links", mode: "html", relative: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fixtures(t)
			up := standardUpstream(t, fx)
			up.setMode(tt.mode)
			up.relative = tt.relative
			e := startEnv(t, envOptions{upstream: up})
			pg := e.page("app", demo)
			sized := tt.mode != "html"
			var want []jsonFileCheck
			for _, d := range upstreamDists(fx, demo) {
				var yanked any = false
				if d.Version == "1.1.0" {
					yanked = "broken build"
				}
				want = append(want, e.wantFile("app", d, yanked, sized))
			}
			if diff := cmp.Diff(want, pg.Files); diff != "" {
				t.Fatalf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"1.0.0", "1.1.0", "1.2.0", "2.0.0rc1"}, pg.Versions); diff != "" {
				t.Fatalf("versions (-want +got):\n%s", diff)
			}
			wantAPI := map[bool]string{true: "1.1", false: "1.0"}[sized]
			if pg.Name != demo || pg.Meta.APIVersion != wantAPI {
				t.Fatalf("name %q, api-version %q", pg.Name, pg.Meta.APIVersion)
			}
			// Every link works, wherever the upstream keeps the file.
			for _, d := range upstreamDists(fx, demo) {
				if r := e.get(e.fileURL("app", d), nil); r.Status != 200 || !bytes.Equal(r.Body, d.Body) {
					t.Fatalf("download %s: %d %.200s", d.Filename, r.Status, r)
				}
			}
		})
	}
}

func TestSimpleHTML(t *testing.T) {
	e := startEnv(t, envOptions{})
	r := e.get(e.repo("app")+"/simple/"+demo+"/", acceptHeader("text/html"))
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("HTML page: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	y := e.fx.get(t, setUpstream, demo, "1.1.0", true)
	anchor := `<a href="` + e.fileURL("app", y) + `#sha256=` + y.SHA256 + `" data-requires-python="&gt;=3.7" data-core-metadata="sha256=` +
		sha256Hex(y.Metadata) + `" data-dist-info-metadata="sha256=` + sha256Hex(y.Metadata) + `" data-yanked="broken build">` + y.Filename + `</a><br />`
	if !contains(r, anchor) {
		t.Fatalf("the yanked wheel's anchor is not\n%s\nin\n%s", anchor, r)
	}
	if !contains(r, `<meta name="pypi:repository-version" content="1.1">`) {
		t.Fatalf("no repository version in\n%s", r)
	}
	// What Stockpile writes, its own upstream parser reads back the same.
	base, _ := url.Parse(e.repo("app") + "/simple/" + demo + "/")
	files, err := parseHTMLPage(base, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Filename+" "+f.Digests.SHA256[:8]+" "+f.Meta.RequiresPython+" "+f.Meta.YankedReason)
	}
	var want []string
	for _, d := range upstreamDists(e.fx, demo) {
		reason := ""
		if d.Version == "1.1.0" {
			reason = "broken build"
		}
		want = append(want, d.Filename+" "+d.SHA256[:8]+" "+d.Spec.RequiresPython+" "+reason)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("HTML links (-want +got):\n%s", diff)
	}
}

func TestNegotiation(t *testing.T) {
	e := startEnv(t, envOptions{})
	page := e.repo("app") + "/simple/" + demo + "/"
	tests := []struct {
		name, accept, query string
		wantStatus          int
		wantType            string
	}{
		{name: "no accept", accept: "-", wantStatus: 200, wantType: "text/html; charset=utf-8"},
		{name: "any", accept: "*/*", wantStatus: 200, wantType: "text/html; charset=utf-8"},
		{name: "pip", accept: pipAccept, wantStatus: 200, wantType: mediaJSON},
		{name: "v1 html", accept: mediaHTMLv1, wantStatus: 200, wantType: mediaHTMLv1},
		{name: "latest json", accept: "application/vnd.pypi.simple.latest+json", wantStatus: 200, wantType: mediaJSON},
		{name: "html preferred by quality", accept: mediaHTMLv1 + ", " + mediaJSON + "; q=0.5", wantStatus: 200, wantType: mediaHTMLv1},
		{name: "format query overrides", accept: "text/html", query: "?format=" + url.QueryEscape(mediaJSON), wantStatus: 200, wantType: mediaJSON},
		{name: "nothing acceptable", accept: "application/xml", wantStatus: 406, wantType: "text/plain; charset=utf-8"},
	}
	etags := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(page+tt.query, acceptHeader(tt.accept))
			if r.Status != tt.wantStatus || r.Header.Get("Content-Type") != tt.wantType {
				t.Fatalf("Accept %q: %d %q, want %d %q\n%.300s", tt.accept, r.Status, r.Header.Get("Content-Type"), tt.wantStatus, tt.wantType, r)
			}
			if r.Status != 200 {
				return
			}
			if v := r.Header.Get("Vary"); !strings.Contains(v, "Accept") {
				t.Fatalf("Vary = %q", v)
			}
			etag := r.Header.Get("ETag")
			if prev, ok := etags[tt.wantType]; ok && prev != etag {
				t.Fatalf("ETag %s for %s, earlier %s", etag, tt.wantType, prev)
			}
			for typ, other := range etags {
				if typ != tt.wantType && other == etag {
					t.Fatalf("%s and %s share the ETag %s", typ, tt.wantType, etag)
				}
			}
			etags[tt.wantType] = etag
			// Revalidation answers 304 with the same Vary.
			nm := e.get(page+tt.query, http.Header{"Accept": {tt.accept}, "If-None-Match": {etag}})
			if nm.Status != http.StatusNotModified || nm.Header.Get("ETag") != etag || !strings.Contains(nm.Header.Get("Vary"), "Accept") {
				t.Fatalf("conditional GET: %d ETag %q Vary %q", nm.Status, nm.Header.Get("ETag"), nm.Header.Get("Vary"))
			}
		})
	}
	t.Run("gzip and HEAD", func(t *testing.T) {
		plain := e.get(page, acceptHeader(pipAccept))
		gz := e.get(page, http.Header{"Accept": {pipAccept}, "Accept-Encoding": {"gzip, deflate"}})
		if gz.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding = %q", gz.Header.Get("Content-Encoding"))
		}
		if unzipped, err := formattest.Gunzip(gz.Body); err != nil || !bytes.Equal(unzipped, plain.Body) {
			t.Fatalf("the gzipped page differs (%v)", err)
		}
		head := e.do(http.MethodHead, page, acceptHeader(pipAccept), nil)
		if head.Status != 200 || len(head.Body) != 0 || head.Header.Get("Content-Length") != plain.Header.Get("Content-Length") ||
			head.Header.Get("Content-Type") != mediaJSON {
			t.Fatalf("HEAD: %d %d bytes, headers %v", head.Status, len(head.Body), head.Header)
		}
	})
}

func TestRedirects(t *testing.T) {
	e := startEnv(t, envOptions{})
	base := e.repo("app")
	tests := []struct {
		name, path string
		wantStatus int
		wantLoc    string
	}{
		{"index without slash", "/simple", 301, base + "/simple/"},
		{"project without slash", "/simple/" + demo, 301, base + "/simple/" + demo + "/"},
		{"display name", "/simple/Stock_Pile.Demo/", 301, base + "/simple/" + demo + "/"},
		{"display name without slash", "/simple/Stock_Pile.Demo", 301, base + "/simple/" + demo + "/"},
		{"upper case keeps the query", "/simple/STOCK-PILE-DEMO/?format=text/html", 301, base + "/simple/" + demo + "/?format=text/html"},
		{"json api", "/pypi/Stock_Pile.Demo/json", 301, base + "/pypi/" + demo + "/json"},
		{"json api version", "/pypi/stock_pile_demo/1.0.0/json", 301, base + "/pypi/" + demo + "/1.0.0/json"},
		{"canonical page", "/simple/" + demo + "/", 200, ""},
		{"unknown project", "/simple/no-such-project/", 404, ""},
		{"invalid name", "/simple/bad%20name/", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(base+tt.path, acceptHeader(pipAccept))
			if r.Status != tt.wantStatus || r.Header.Get("Location") != tt.wantLoc {
				t.Fatalf("GET %s: %d Location %q, want %d %q\n%.200s", tt.path, r.Status, r.Header.Get("Location"), tt.wantStatus, tt.wantLoc, r)
			}
			if r.Status >= 400 && r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("error Content-Type %q", r.Header.Get("Content-Type"))
			}
		})
	}
}

func TestDownloadRetentionAndCoreMetadata(t *testing.T) {
	e := startEnv(t, envOptions{})
	fx := e.fx
	wheel := fx.get(t, setUpstream, demo, "1.0.0", true)
	sdist := fx.get(t, setUpstream, demo, "1.0.0", false)
	other := fx.get(t, setUpstream, demo, "1.2.0", true)

	t.Run("core metadata is proxied, not extracted", func(t *testing.T) {
		r := e.get(e.fileURL("app", other)+".metadata", nil)
		if r.Status != 200 || !bytes.Equal(r.Body, other.Metadata) {
			t.Fatalf(".metadata: %d %q", r.Status, r)
		}
		if got, want := sha256Hex(r.Body), sha256Hex(other.Metadata); got != want {
			t.Fatalf("sha256 %s, advertised %s", got, want)
		}
		if n := e.up.Files.Hits(filePath(other) + ".metadata"); n != 1 {
			t.Fatalf("upstream .metadata hits = %d", n)
		}
		if n := e.up.Files.Hits(filePath(other)); n != 0 {
			t.Fatalf("the wheel was fetched %d times for its metadata", n)
		}
		if e.held("app", demo, "1.2.0") != nil {
			t.Fatal("reading core metadata retained the version")
		}
	})
	t.Run("download verifies, retains and serves once", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			r := e.get(e.fileURL("app", wheel), nil)
			if r.Status != 200 || !bytes.Equal(r.Body, wheel.Body) {
				t.Fatalf("download %d: %d", i, r.Status)
			}
			if ct, ce := r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"); ct != "application/octet-stream" || ce != "" {
				t.Fatalf("Content-Type %q, Content-Encoding %q", ct, ce)
			}
		}
		if n := e.up.Files.Hits(filePath(wheel)); n != 1 {
			t.Fatalf("upstream wheel hits = %d, want 1", n)
		}
		held := map[string]bool{}
		for _, repo := range []string{"app", "internal", "team", "pypi-store"} {
			held[repo] = e.held(repo, demo, "1.0.0") != nil
		}
		if diff := cmp.Diff(map[string]bool{"app": true, "internal": false, "team": false, "pypi-store": true}, held); diff != "" {
			t.Fatalf("retention (-want +got):\n%s", diff)
		}
		// The other file of the version comes on demand, from the record.
		if r := e.get(e.fileURL("app", sdist), nil); r.Status != 200 || !bytes.Equal(r.Body, sdist.Body) {
			t.Fatalf("sdist: %d", r.Status)
		}
	})
	t.Run("HEAD and ranges", func(t *testing.T) {
		head := e.do(http.MethodHead, e.fileURL("app", wheel), nil, nil)
		if head.Status != 200 || head.Header.Get("Content-Length") != strconv.Itoa(len(wheel.Body)) {
			t.Fatalf("HEAD: %d length %q", head.Status, head.Header.Get("Content-Length"))
		}
		r := e.get(e.fileURL("app", wheel), http.Header{"Range": {"bytes=0-3"}})
		if r.Status != http.StatusPartialContent || string(r.Body) != "PK\x03\x04" {
			t.Fatalf("range: %d %q", r.Status, r.Body)
		}
	})
	t.Run("metadata of a wheel the upstream gives none for is read from the wheel", func(t *testing.T) {
		up := newFakePyPI(t)
		d := fx.get(t, setUpstream, "dep-b", "1.1.0", true)
		up.publish(&upFile{D: d, NoMetadata: true})
		e2 := startEnv(t, envOptions{upstream: up})
		pg := e2.page("app", "dep-b")
		if len(pg.Files) != 1 || pg.Files[0].CoreMetadata != nil {
			t.Fatalf("core metadata advertised without being known: %+v", pg.Files)
		}
		r := e2.get(e2.fileURL("app", d)+".metadata", nil)
		if r.Status != 200 || !bytes.Equal(r.Body, d.Metadata) {
			t.Fatalf(".metadata: %d %q", r.Status, r)
		}
	})
	t.Run("corrupt upstream bytes are refused and not kept", func(t *testing.T) {
		d := fx.get(t, setUpstream, demo, "2.0.0rc1", true)
		e.up.Files.Fault(filePath(d), upstreamtest.Fault{Corrupt: true, Times: 1})
		// Either a 502 before anything is sent, or, once streaming began, a
		// transfer cut short: never a complete 200.
		req, _ := http.NewRequest(http.MethodGet, e.fileURL("app", d), nil)
		req.SetBasicAuth("aws", e.token)
		resp, err := client.Do(req)
		if err == nil {
			_, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway && rerr == nil {
				t.Fatalf("corrupt upstream bytes: %d, read error %v", resp.StatusCode, rerr)
			}
		}
		if v := e.held("app", demo, "2.0.0rc1"); v != nil {
			t.Fatalf("a version whose bytes failed verification was retained: %+v", v)
		}
		if r := e.get(e.fileURL("app", d), nil); r.Status != 200 || !bytes.Equal(r.Body, d.Body) {
			t.Fatalf("after the fault: %d", r.Status)
		}
	})
	t.Run("unknown files", func(t *testing.T) {
		for _, u := range []string{
			e.repo("app") + "/simple/" + demo + "/9.9.9/Stock_Pile.Demo-9.9.9.tar.gz",
			e.repo("app") + "/simple/" + demo + "/1.0.0/nope-1.0.0.tar.gz",
			e.repo("app") + "/simple/" + demo + "/1.0.0/" + sdist.Filename + ".metadata",
		} {
			if r := e.get(u, nil); r.Status != 404 {
				t.Fatalf("GET %s: %d", u, r.Status)
			}
		}
	})
}

func TestYankedAndStatuses(t *testing.T) {
	e := startEnv(t, envOptions{})
	yanked := e.fx.get(t, setUpstream, demo, "1.1.0", true)
	if r := e.get(e.fileURL("app", yanked), nil); r.Status != 200 || !bytes.Equal(r.Body, yanked.Body) {
		t.Fatalf("an upstream-yanked file by exact URL: %d", r.Status)
	}
	// Once retained, the yank mark stays with the version.
	if pg := e.page("app", demo); pg.Files[2].Filename != yanked.Filename || pg.Files[2].Yanked != "broken build" {
		t.Fatalf("retained yanked file: %+v", pg.Files[2])
	}
	wheel := e.fx.get(t, setUpstream, demo, "1.0.0", true)
	if r := e.get(e.fileURL("app", wheel), nil); r.Status != 200 {
		t.Fatalf("download: %d", r.Status)
	}
	app := formats.RepoRef{Domain: "acme", Repository: "app"}
	setStatus := func(s formats.Status) {
		t.Helper()
		err := e.in.Server.Resolver().UpdateVersion(context.Background(), app, pkg(demo), "1.0.0", func(v *formats.Version) error {
			v.Status = s
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		status       formats.Status
		wantListed   bool
		wantYanked   any
		wantDownload int
	}{
		{formats.StatusUnlisted, true, true, 200},
		{formats.StatusArchived, false, nil, 404},
		{formats.StatusPublished, true, false, 200},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			setStatus(tt.status)
			pg := e.page("app", demo)
			listed := false
			for _, f := range pg.Files {
				if f.Filename == wheel.Filename {
					listed = true
					if f.Yanked != tt.wantYanked {
						t.Fatalf("yanked = %v, want %v", f.Yanked, tt.wantYanked)
					}
				}
			}
			inVersions := false
			for _, v := range pg.Versions {
				inVersions = inVersions || v == "1.0.0"
			}
			if listed != tt.wantListed || inVersions != tt.wantListed {
				t.Fatalf("file listed %v, in versions %v, want %v", listed, inVersions, tt.wantListed)
			}
			if r := e.get(e.fileURL("app", wheel), nil); r.Status != tt.wantDownload {
				t.Fatalf("download: %d, want %d", r.Status, tt.wantDownload)
			}
		})
	}
}

func TestUpload(t *testing.T) {
	e := startEnv(t, envOptions{})
	fx := e.fx
	wheel := fx.get(t, setInternal, "acme-secret", "0.1.0", true)
	sdist := fx.get(t, setInternal, "acme-secret", "0.1.0", false)
	alt := fx.get(t, setAlt, "acme-secret", "0.1.0", true)
	notAZip := *wheel
	notAZip.Body = []byte("not a zip")
	notAZip.SHA256 = sha256Hex(notAZip.Body)

	tests := []struct {
		name       string
		repo       string
		d          *dist
		override   map[string]string
		wantStatus int
		wantBody   string
	}{
		{name: "wheel", repo: "internal", d: wheel, wantStatus: 200},
		{name: "the same wheel again is a success", repo: "internal", d: wheel, wantStatus: 200},
		{name: "other bytes under the same name", repo: "internal", d: alt, wantStatus: 409, wantBody: "File already exists"},
		{name: "sdist joins the version", repo: "internal", d: sdist, wantStatus: 200},
		{name: "sha256 mismatch", repo: "internal", d: wheel, override: map[string]string{"sha256_digest": strings.Repeat("0", 64)}, wantStatus: 400, wantBody: "sha256_digest"},
		{name: "md5 mismatch", repo: "internal", d: wheel, override: map[string]string{"md5_digest": strings.Repeat("0", 32)}, wantStatus: 400, wantBody: "md5_digest"},
		{name: "no digests is fine", repo: "internal", d: wheel, override: map[string]string{"sha256_digest": "<omit>", "md5_digest": "<omit>"}, wantStatus: 200},
		{name: "missing action", repo: "internal", d: wheel, override: map[string]string{":action": "<omit>"}, wantStatus: 400, wantBody: ":action"},
		{name: "other action", repo: "internal", d: wheel, override: map[string]string{":action": "submit"}, wantStatus: 400, wantBody: "not supported"},
		{name: "missing name", repo: "internal", d: wheel, override: map[string]string{"name": "<omit>"}, wantStatus: 400, wantBody: "name field"},
		{name: "missing version", repo: "internal", d: wheel, override: map[string]string{"version": "<omit>"}, wantStatus: 400, wantBody: "version field"},
		{name: "bad version", repo: "internal", d: wheel, override: map[string]string{"version": "not a version"}, wantStatus: 400, wantBody: "PEP 440"},
		{name: "missing file", repo: "internal", d: wheel, override: map[string]string{"content": "<omit>"}, wantStatus: 400, wantBody: "content part"},
		{name: "file of another project", repo: "internal", d: wheel, override: map[string]string{"name": "other"}, wantStatus: 400, wantBody: "does not belong"},
		{name: "file of another version", repo: "internal", d: wheel, override: map[string]string{"version": "0.2.0"}, wantStatus: 400, wantBody: "does not belong"},
		{name: "wrong filetype", repo: "internal", d: wheel, override: map[string]string{"filetype": "sdist"}, wantStatus: 400, wantBody: "filetype"},
		{name: "not a distribution", repo: "internal", d: wheel, override: map[string]string{"filename": "notes.txt"}, wantStatus: 400, wantBody: "distribution file name"},
		{name: "wheel that is not a zip", repo: "internal", d: &notAZip, wantStatus: 400, wantBody: "zip"},
		{name: "a version the upstream serves", repo: "app", d: fx.get(t, setUpstream, demo, "1.0.0", true), wantStatus: 409, wantBody: "already available from upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.upload(tt.repo, tt.d, tt.override)
			if r.Status != tt.wantStatus || !contains(r, tt.wantBody) {
				t.Fatalf("upload: %d %q, want %d containing %q", r.Status, r, tt.wantStatus, tt.wantBody)
			}
			if r.Status >= 300 && r.Status < 400 {
				t.Fatalf("the upload URL redirected")
			}
		})
	}

	t.Run("published page, core metadata and download", func(t *testing.T) {
		pg := e.page("internal", "acme-secret")
		want := []jsonFileCheck{
			e.wantFile("internal", wheel, false, true),
			e.wantFile("internal", sdist, false, true),
		}
		for i := range want {
			if i < len(pg.Files) {
				want[i].UploadTime = pg.Files[i].UploadTime // set at upload
			}
		}
		if diff := cmp.Diff(want, pg.Files); diff != "" {
			t.Fatalf("files (-want +got):\n%s", diff)
		}
		if _, err := time.Parse(uploadLayout, pg.Files[0].UploadTime); err != nil {
			t.Fatalf("upload-time %q: %v", pg.Files[0].UploadTime, err)
		}
		if r := e.get(e.fileURL("internal", wheel)+".metadata", nil); r.Status != 200 || !bytes.Equal(r.Body, wheel.Metadata) {
			t.Fatalf(".metadata: %d %q", r.Status, r)
		}
		if r := e.get(e.fileURL("internal", sdist), nil); r.Status != 200 || !bytes.Equal(r.Body, sdist.Body) {
			t.Fatalf("download: %d", r.Status)
		}
	})
	t.Run("upload URL without slash", func(t *testing.T) {
		ctype, body := uploadForm(wheel, nil)
		r := e.do(http.MethodPost, e.repo("internal"), http.Header{"Content-Type": {ctype}}, bytes.NewReader(body))
		if r.Status != 200 {
			t.Fatalf("POST without slash: %d %q", r.Status, r)
		}
	})
	t.Run("not multipart", func(t *testing.T) {
		r := e.do(http.MethodPost, e.repo("internal")+"/", http.Header{"Content-Type": {"application/json"}}, strings.NewReader("{}"))
		if r.Status != 400 || !contains(r, "multipart/form-data") {
			t.Fatalf("%d %q", r.Status, r)
		}
	})
	t.Run("without a token", func(t *testing.T) {
		ctype, body := uploadForm(wheel, nil)
		req, _ := http.NewRequest(http.MethodPost, e.repo("internal")+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), "Basic") {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("publish blocked by origin controls", func(t *testing.T) {
		// pypi-store took stock-pile-demo from the upstream: publish=BLOCK.
		if r := e.get(e.fileURL("app", fx.get(t, setUpstream, demo, "1.0.0", true)), nil); r.Status != 200 {
			t.Fatalf("download: %d", r.Status)
		}
		r := e.upload("pypi-store", fx.get(t, setUpstream, demo, "1.2.0", true), nil)
		if r.Status != 403 || !contains(r, "publish=BLOCK") {
			t.Fatalf("%d %q", r.Status, r)
		}
	})
}

func TestUploadTooLarge(t *testing.T) {
	e := startEnv(t, envOptions{format: NewWithOptions(Options{MaxUploadSize: 4096})})
	d := e.fx.get(t, setInternal, "acme-secret", "0.1.0", true)
	big := *d
	big.Body = bytes.Repeat([]byte("x"), 10000)
	r := e.upload("internal", &big, nil)
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %q", r.Status, r)
	}
	e2 := startEnv(t, envOptions{publish: 64})
	if r := e2.upload("internal", d, nil); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("engine bound: %d %q", r.Status, r)
	}
}

func TestDependencyConfusionGuard(t *testing.T) {
	e := startEnv(t, envOptions{})
	public := e.fx.get(t, setUpstream, "acme-secret", "99.0.0", true)
	internal := e.fx.get(t, setInternal, "acme-secret", "0.1.0", true)
	if pg := e.page("app", "acme-secret"); len(pg.Versions) != 1 || pg.Versions[0] != "99.0.0" {
		t.Fatalf("before the internal upload: %v", pg.Versions)
	}
	if r := e.upload("internal", internal, nil); r.Status != 200 {
		t.Fatalf("upload: %d %q", r.Status, r)
	}
	pg := e.page("app", "acme-secret")
	if diff := cmp.Diff([]string{"0.1.0"}, pg.Versions); diff != "" {
		t.Fatalf("versions through app (-want +got):\n%s", diff)
	}
	if len(pg.Files) != 1 || pg.Files[0].Filename != internal.Filename {
		t.Fatalf("files through app: %+v", pg.Files)
	}
	if r := e.get(e.fileURL("app", public), nil); r.Status != 404 {
		t.Fatalf("the public version of an internal name: %d", r.Status)
	}
	if n := e.up.Files.Hits(filePath(public)); n != 0 {
		t.Fatalf("the public file was fetched %d times", n)
	}
	if r := e.get(e.fileURL("app", internal), nil); r.Status != 200 || !bytes.Equal(r.Body, internal.Body) {
		t.Fatalf("the internal file: %d", r.Status)
	}
}

func TestStaleAndOffline(t *testing.T) {
	e := startEnv(t, envOptions{ttl: time.Millisecond})
	wheel := e.fx.get(t, setUpstream, demo, "1.0.0", true)
	never := e.fx.get(t, setUpstream, demo, "1.2.0", true)
	first := e.page("app", demo)
	for _, u := range []string{e.fileURL("app", wheel), e.fileURL("app", wheel) + ".metadata"} {
		if r := e.get(u, nil); r.Status != 200 {
			t.Fatalf("warm-up %s: %d", u, r.Status)
		}
	}
	t.Run("upstream failing", func(t *testing.T) {
		e.up.Index.Fault("*", upstreamtest.Fault{Status: 500})
		defer e.up.Index.ClearFaults()
		e.in.Clock.Advance(5 * time.Millisecond)
		if diff := cmp.Diff(first, e.page("app", demo)); diff != "" {
			t.Fatalf("stale page (-want +got):\n%s", diff)
		}
	})
	t.Run("upstream gone and restart", func(t *testing.T) {
		e.up.Index.Close()
		e.up.Files.Close()
		e.in.Restart()
		if diff := cmp.Diff(e.page("app", demo).Files, first.Files, cmp.Comparer(func(a, b string) bool {
			return strings.Replace(a, e.in.URL, "", 1) == strings.Replace(b, e.in.URL, "", 1)
		})); diff != "" {
			t.Fatalf("offline page (-want +got):\n%s", diff)
		}
		if r := e.get(e.fileURL("app", wheel), nil); r.Status != 200 || !bytes.Equal(r.Body, wheel.Body) {
			t.Fatalf("offline download: %d", r.Status)
		}
		if r := e.get(e.fileURL("app", wheel)+".metadata", nil); r.Status != 200 || !bytes.Equal(r.Body, wheel.Metadata) {
			t.Fatalf("offline .metadata: %d", r.Status)
		}
		if r := e.get(e.fileURL("app", never), nil); r.Status != http.StatusBadGateway {
			t.Fatalf("a file never fetched, upstream down: %d, want 502", r.Status)
		}
	})
}

func TestJSONAPI(t *testing.T) {
	e := startEnv(t, envOptions{})
	type file struct {
		Filename      string            `json:"filename"`
		URL           string            `json:"url"`
		Digests       map[string]string `json:"digests"`
		PackageType   string            `json:"packagetype"`
		PythonVersion string            `json:"python_version"`
		Yanked        bool              `json:"yanked"`
		YankedReason  *string           `json:"yanked_reason"`
	}
	type doc struct {
		Info struct {
			Name           string   `json:"name"`
			Version        string   `json:"version"`
			Summary        *string  `json:"summary"`
			RequiresPython *string  `json:"requires_python"`
			Yanked         bool     `json:"yanked"`
			YankedReason   *string  `json:"yanked_reason"`
			RequiresDist   []string `json:"requires_dist"`
		} `json:"info"`
		Releases map[string][]file `json:"releases"`
		URLs     []file            `json:"urls"`
	}
	read := func(path string) *doc {
		t.Helper()
		r := e.get(e.repo("app")+path, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %q %s", path, r.Status, r.Header.Get("Content-Type"), r)
		}
		var d doc
		if err := json.Unmarshal(r.Body, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	d := read("/pypi/" + demo + "/json")
	if d.Info.Version != "1.2.0" || d.Info.Name != demo || len(d.Releases) != 4 || len(d.URLs) != 1 {
		t.Fatalf("project: info %+v, %d releases, %d urls", d.Info, len(d.Releases), len(d.URLs))
	}
	w := e.fx.get(t, setUpstream, demo, "1.0.0", true)
	var got file
	for _, f := range d.Releases["1.0.0"] {
		if f.Filename == w.Filename {
			got = f
		}
	}
	want := file{Filename: w.Filename, URL: e.fileURL("app", w), Digests: map[string]string{"sha256": w.SHA256}, PackageType: kindWheel, PythonVersion: "py3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("file (-want +got):\n%s", diff)
	}
	y := read("/pypi/" + demo + "/1.1.0/json")
	if !y.Info.Yanked || y.Info.YankedReason == nil || *y.Info.YankedReason != "broken build" || y.Releases != nil || y.Info.RequiresPython == nil {
		t.Fatalf("yanked version: %+v", y.Info)
	}
	if r := e.get(e.repo("app")+"/pypi/"+demo+"/9.9/json", nil); r.Status != 404 {
		t.Fatalf("unknown version: %d", r.Status)
	}
	internal := e.fx.get(t, setInternal, "acme-secret", "0.1.0", true)
	if r := e.upload("internal", internal, nil); r.Status != 200 {
		t.Fatalf("upload: %d %q", r.Status, r)
	}
	s := read("/pypi/acme-secret/json")
	if s.Info.Name != "Acme_Secret" || s.Info.Version != "0.1.0" || s.Info.Summary == nil || *s.Info.Summary != "fixture internal" {
		t.Fatalf("uploaded project info: %+v", s.Info)
	}
}

func TestRootAndControlPlane(t *testing.T) {
	e := startEnv(t, envOptions{open: true})
	if r := e.get(e.fileURL("app", e.fx.get(t, setUpstream, demo, "1.0.0", true)), nil); r.Status != 200 {
		t.Fatalf("download: %d", r.Status)
	}
	r := e.get(e.repo("app")+"/simple/", acceptHeader(mediaJSON))
	if r.Status != 200 || r.Header.Get("Content-Type") != mediaJSON {
		t.Fatalf("root: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	var root struct {
		Projects []struct{ Name string } `json:"projects"`
	}
	json.Unmarshal(r.Body, &root)
	if len(root.Projects) != 1 || root.Projects[0].Name != demo {
		t.Fatalf("root: %s", r)
	}
	if h := e.get(e.repo("app")+"/simple/", nil); !contains(h, `<a href="`+e.repo("app")+`/simple/`+demo+`/">`+demo+`</a>`) {
		t.Fatalf("HTML root: %s", h)
	}
	// The control plane finds the package under any spelling.
	q := url.Values{"domain": {"acme"}, "repository": {"app"}, "format": {"pypi"}, "package": {"Stock_Pile.Demo"}}
	cp := e.do(http.MethodPost, e.in.URL+"/v1/package/versions?"+q.Encode(), nil, nil)
	if cp.Status != 200 || !contains(cp, `"package":"stock-pile-demo"`) || !contains(cp, `"version":"1.0.0"`) {
		t.Fatalf("ListPackageVersions: %d %s", cp.Status, cp)
	}
}
