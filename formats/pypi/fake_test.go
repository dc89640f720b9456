package pypi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// fakePyPI is a PyPI on loopback: a simple index on one server whose file
// links are absolute URLs on a second server (as pypi.org and
// files.pythonhosted.org), with PEP 658 .metadata files for wheels.
type fakePyPI struct {
	Index *upstreamtest.Server
	Files *upstreamtest.Server

	mu       sync.Mutex
	mode     string // "negotiate" (JSON for JSON clients), "html" or "json"
	relative bool   // HTML links relative to the page (same host), not absolute
	projects map[string][]*upFile
}

// upFile is a file offered by the fake.
type upFile struct {
	D          *dist
	Yanked     *string // nil: not yanked
	NoMetadata bool    // do not advertise nor serve .metadata
	// UploadTime is the file's PEP 700 upload-time in JSON pages: "" a
	// fixed one, "none" none.
	UploadTime string
}

func newFakePyPI(t testing.TB) *fakePyPI {
	return &fakePyPI{Index: upstreamtest.New(t), Files: upstreamtest.New(t), mode: "negotiate", projects: map[string][]*upFile{}}
}

// filePath is where the files server keeps a file (PyPI's hashed layout).
func filePath(d *dist) string {
	return formattest.PyPIFilePath(d.SHA256, d.Filename)
}

func (f *fakePyPI) setMode(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

// publish makes the fake offer exactly these files for their project.
func (f *fakePyPI) publish(files ...*upFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byProject := map[string][]*upFile{}
	for _, uf := range files {
		byProject[uf.D.Project] = append(byProject[uf.D.Project], uf)
		// The index host serves them too, for pages with relative links.
		for _, srv := range []*upstreamtest.Server{f.Files, f.Index} {
			srv.Handle(filePath(uf.D), upstreamtest.Response{Body: uf.D.Body, ContentType: "application/octet-stream"})
			if uf.D.Wheel && !uf.NoMetadata {
				srv.Handle(filePath(uf.D)+".metadata", upstreamtest.Response{Body: uf.D.Metadata, ContentType: "application/octet-stream"})
			}
		}
	}
	for project, fs := range byProject {
		f.projects[project] = fs
		project := project
		f.Index.HandleFunc("/simple/"+project+"/", func(w http.ResponseWriter, r *http.Request) { f.servePage(w, r, project) })
	}
}

func (f *fakePyPI) servePage(w http.ResponseWriter, r *http.Request, project string) {
	f.mu.Lock()
	files, mode, relative := f.projects[project], f.mode, f.relative
	f.mu.Unlock()
	var body []byte
	var ctype string
	if mode == "json" || (mode == "negotiate" && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json")) {
		body, ctype = f.jsonPage(project, files), "application/vnd.pypi.simple.v1+json"
	} else {
		body, ctype = f.htmlPage(project, files, relative), "text/html; charset=utf-8"
	}
	etag := `"` + sha256Hex(body)[:16] + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Vary", "Accept")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Write(body)
}

func (f *fakePyPI) url(d *dist) string { return f.Files.URL + filePath(d) }

func (f *fakePyPI) jsonPage(project string, files []*upFile) []byte {
	out := formattest.PyPIPage{Meta: map[string]any{"api-version": "1.1", "_last-serial": 42}, Name: project, Files: []formattest.PyPIFile{}}
	seen := map[string]bool{}
	for _, uf := range files {
		jf := formattest.PyPIFile{Filename: uf.D.Filename, URL: f.url(uf.D), Hashes: map[string]string{"sha256": uf.D.SHA256}, Size: len(uf.D.Body),
			Yanked: false, CoreMetadata: false, UploadTime: "2024-01-02T03:04:05.123456Z"}
		switch uf.UploadTime {
		case "":
		case "none":
			jf.UploadTime = ""
		default:
			jf.UploadTime = uf.UploadTime
		}
		if rp := uf.D.Spec.RequiresPython; rp != "" {
			jf.RequiresPython = &rp
		}
		if uf.D.Wheel && !uf.NoMetadata {
			jf.CoreMetadata = map[string]string{"sha256": sha256Hex(uf.D.Metadata)}
			jf.DistInfo = jf.CoreMetadata
		}
		if uf.Yanked != nil {
			jf.Yanked = *uf.Yanked
			if *uf.Yanked == "" {
				jf.Yanked = true
			}
		}
		out.Files = append(out.Files, jf)
		if !seen[uf.D.Version] {
			seen[uf.D.Version] = true
			out.Versions = append(out.Versions, uf.D.Version)
		}
	}
	b, _ := json.Marshal(out)
	return b
}

func (f *fakePyPI) htmlPage(project string, files []*upFile, relative bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for %s</title></head><body><h1>Links for %s</h1>\n", project, project)
	for _, uf := range files {
		href := f.url(uf.D)
		if relative {
			href = "../.." + filePath(uf.D)
		}
		fmt.Fprintf(&b, `<a href="%s#sha256=%s"`, html.EscapeString(href), uf.D.SHA256)
		if rp := uf.D.Spec.RequiresPython; rp != "" {
			fmt.Fprintf(&b, ` data-requires-python="%s"`, html.EscapeString(rp))
		}
		if uf.D.Wheel && !uf.NoMetadata {
			fmt.Fprintf(&b, ` data-dist-info-metadata="sha256=%s" data-core-metadata="sha256=%s"`, sha256Hex(uf.D.Metadata), sha256Hex(uf.D.Metadata))
		}
		if uf.Yanked != nil {
			fmt.Fprintf(&b, ` data-yanked="%s"`, html.EscapeString(*uf.Yanked))
		}
		fmt.Fprintf(&b, ">%s</a><br/>\n", uf.D.Filename)
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

func strp(s string) *string { return &s }

// standardUpstream offers the upstream set: Stock_Pile.Demo 1.1.0 yanked,
// everything with core metadata.
func standardUpstream(t testing.TB, fx *fixtureSet) *fakePyPI {
	f := newFakePyPI(t)
	var files []*upFile
	for _, d := range fx.Dists {
		if d.Set != setUpstream {
			continue
		}
		uf := &upFile{D: d}
		if d.Project == "stock-pile-demo" && d.Version == "1.1.0" {
			uf.Yanked = strp("broken build")
		}
		files = append(files, uf)
	}
	f.publish(files...)
	return f
}
