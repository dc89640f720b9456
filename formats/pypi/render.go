package pypi

import (
	"bytes"
	"fmt"
	"html"
	"sort"

	"github.com/stockpile-proxy/stockpile/formats"
)

// apiVersion is the simple API version of the pages: 1.1 when every file's
// size is known (PEP 700 makes size mandatory), 1.0 otherwise.
const (
	apiVersion10 = "1.0"
	apiVersion11 = "1.1"
)

// offered reports whether clients see a version of status s: Published ones,
// and Unlisted ones marked yanked so an exact pin still installs them.
func offered(s formats.Status) bool {
	return s == formats.StatusPublished || s == formats.StatusUnlisted
}

// file is one file of a rendered project page.
type file struct {
	Version  string
	Name     string
	URL      string // Stockpile's own, without fragment
	SHA256   string
	Size     int64
	Meta     *fileMeta
	Yanked   bool
	Reason   string
	CoreHash string // sha256 of the core metadata, "" when unknown
	HasCore  bool   // core metadata served at URL + ".metadata"
}

// page is what both representations of a project page show.
type page struct {
	Name     string
	Files    []file
	Versions []string
}

// fileURL is where Stockpile serves a file: CodeArtifact's layout,
// {base}/simple/{project}/{version}/{filename}.
func fileURL(base, project, version, filename string) string {
	return base + "/simple/" + pathEscape(project) + "/" + pathEscape(version) + "/" + pathEscape(filename)
}

// buildPage gathers the files of the offered versions of a view; with
// held, also those of the versions a release-age cooldown holds, marked
// yanked with the reason (PEP 592: an installer takes a yanked file only
// for a specifier that pins its version exactly, with == or ===, so a
// range never selects it and an exact pin installs it in hide mode, or
// shows why it is refused in deny mode).
func buildPage(v *formats.View, base string, held bool) *page {
	project := v.Package.Name
	pg := &page{Name: project}
	add := func(ver string, vv *formats.ViewVersion, heldReason string) {
		pg.Versions = append(pg.Versions, ver)
		m := decodeMeta(vv.Meta)
		for _, a := range vv.Assets {
			fm := m.file(a.Name)
			f := file{
				Version: ver, Name: a.Name, URL: fileURL(base, project, ver, a.Name),
				SHA256: a.Digests.SHA256, Size: a.Size, Meta: fm,
				Yanked: vv.Status == formats.StatusUnlisted || fm.Yanked, Reason: fm.YankedReason,
			}
			if heldReason != "" {
				f.Yanked, f.Reason = true, heldReason
			}
			if fm.CoreMetadata != "" || fm.CoreMetadataUpstream {
				f.HasCore, f.CoreHash = true, fm.CoreMetadata
			}
			pg.Files = append(pg.Files, f)
		}
	}
	for ver, vv := range v.Versions {
		if offered(vv.Status) {
			add(ver, vv, "")
		}
	}
	for ver, h := range v.Held {
		if _, dup := v.Versions[ver]; held && !dup && offered(h.Status) {
			add(ver, h.ViewVersion, h.Reason)
		}
	}
	sortVersions(pg.Versions)
	sort.Slice(pg.Files, func(i, j int) bool {
		if c := compareVersions(pg.Files[i].Version, pg.Files[j].Version); c != 0 {
			return c < 0
		}
		return pg.Files[i].Name < pg.Files[j].Name
	})
	return pg
}

func (pg *page) apiVersion() string {
	for _, f := range pg.Files {
		if f.Size <= 0 {
			return apiVersion10
		}
	}
	return apiVersion11
}

// renderProject renders a project page in representation r.
func renderProject(v *formats.View, base string, r repr) (*formats.Rendered, error) {
	pg := buildPage(v, base, true)
	if len(pg.Versions) == 0 {
		return nil, fmt.Errorf("%w: project %s has no versions available in this repository", formats.ErrNotFound, v.Package.Name)
	}
	if r == reprJSON {
		b, err := pg.json()
		if err != nil {
			return nil, err
		}
		return &formats.Rendered{Body: b, ContentType: r.contentType()}, nil
	}
	return &formats.Rendered{Body: pg.html(), ContentType: r.contentType()}, nil
}

// html renders PEP 503 with the attributes of PEP 592, 658 and 714.
func (pg *page) html() []byte {
	var b bytes.Buffer
	name := html.EscapeString(pg.Name)
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"%s\">\n    <title>Links for %s</title>\n  </head>\n  <body>\n    <h1>Links for %s</h1>\n", pg.apiVersion(), name, name)
	for _, f := range pg.Files {
		href := f.URL
		if f.SHA256 != "" {
			href += "#sha256=" + f.SHA256
		}
		fmt.Fprintf(&b, "    <a href=\"%s\"", html.EscapeString(href))
		if f.Meta.RequiresPython != "" {
			fmt.Fprintf(&b, " data-requires-python=\"%s\"", html.EscapeString(f.Meta.RequiresPython))
		}
		if f.HasCore {
			v := "true"
			if f.CoreHash != "" {
				v = "sha256=" + f.CoreHash
			}
			fmt.Fprintf(&b, " data-core-metadata=\"%s\" data-dist-info-metadata=\"%s\"", v, v)
		}
		if f.Yanked {
			fmt.Fprintf(&b, " data-yanked=\"%s\"", html.EscapeString(f.Reason))
		}
		fmt.Fprintf(&b, ">%s</a><br />\n", html.EscapeString(f.Name))
	}
	b.WriteString("  </body>\n</html>\n")
	return b.Bytes()
}

// jsonFileOut is a file of a PEP 691 page.
type jsonFileOut struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython string            `json:"requires-python,omitempty"`
	CoreMetadata   any               `json:"core-metadata,omitempty"`
	Yanked         any               `json:"yanked"`
	Size           *int64            `json:"size,omitempty"`
	UploadTime     string            `json:"upload-time,omitempty"`
}

type jsonMeta struct {
	APIVersion string `json:"api-version"`
}

// json renders PEP 691 with PEP 700's versions, size and upload-time.
func (pg *page) json() ([]byte, error) {
	out := struct {
		Meta     jsonMeta      `json:"meta"`
		Name     string        `json:"name"`
		Files    []jsonFileOut `json:"files"`
		Versions []string      `json:"versions"`
	}{Meta: jsonMeta{APIVersion: pg.apiVersion()}, Name: pg.Name, Files: []jsonFileOut{}, Versions: pg.Versions}
	for _, f := range pg.Files {
		jf := jsonFileOut{Filename: f.Name, URL: f.URL, Hashes: map[string]string{}, RequiresPython: f.Meta.RequiresPython,
			Yanked: false, UploadTime: f.Meta.UploadTime}
		if f.SHA256 != "" {
			jf.Hashes["sha256"] = f.SHA256
		}
		if f.HasCore {
			var cm any = true
			if f.CoreHash != "" {
				cm = map[string]string{"sha256": f.CoreHash}
			}
			// PEP 714: only the new key in JSON; pip 22.3 to 23.1 fail
			// hard on a dist-info-metadata object.
			jf.CoreMetadata = cm
		}
		if f.Yanked {
			jf.Yanked = true
			if f.Reason != "" {
				jf.Yanked = f.Reason
			}
		}
		if f.Size > 0 {
			size := f.Size
			jf.Size = &size
		}
		out.Files = append(out.Files, jf)
	}
	if out.Versions == nil {
		out.Versions = []string{}
	}
	return formats.MarshalJSON(out)
}

// renderRoot renders the project list (PEP 503 root, PEP 691 JSON).
func renderRoot(projects []string, base string, r repr) []byte {
	if r == reprJSON {
		type proj struct {
			Name string `json:"name"`
		}
		out := struct {
			Meta     jsonMeta `json:"meta"`
			Projects []proj   `json:"projects"`
		}{Meta: jsonMeta{APIVersion: apiVersion11}, Projects: []proj{}}
		for _, p := range projects {
			out.Projects = append(out.Projects, proj{Name: p})
		}
		b, _ := formats.MarshalJSON(out)
		return b
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"%s\">\n    <title>Simple index</title>\n  </head>\n  <body>\n", apiVersion11)
	for _, p := range projects {
		fmt.Fprintf(&b, "    <a href=\"%s\">%s</a><br />\n", html.EscapeString(base+"/simple/"+pathEscape(p)+"/"), html.EscapeString(p))
	}
	b.WriteString("  </body>\n</html>\n")
	return b.Bytes()
}
