package pypi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// The PyPI JSON API (https://docs.pypi.org/api/json/), built from what
// Stockpile knows: the files of every offered version, and the core-metadata
// fields of uploads. Versions known only from an upstream simple page carry
// no project description.

// jsonProject: GET /pypi/{project}/json.
func (h *handler) jsonProject(c echo.Context) error {
	return h.jsonAPI(c, "")
}

// jsonVersion: GET /pypi/{project}/{version}/json.
func (h *handler) jsonVersion(c echo.Context) error {
	raw, err := url.PathUnescape(c.Param("version"))
	if err != nil || raw == "" || len(raw) > maxVersionLen {
		return fmt.Errorf("%w: %.100q is not a valid version", formats.ErrInvalid, c.Param("version"))
	}
	return h.jsonAPI(c, normalizeVersion(raw))
}

func (h *handler) jsonAPI(c echo.Context, version string) error {
	ref := formats.RepoFrom(c)
	project, normalized, err := projectOf(c)
	if err != nil {
		return err
	}
	if !normalized {
		loc := ref.Base + "/pypi/" + pathEscape(project) + "/"
		if version != "" {
			loc += pathEscape(version) + "/"
		}
		return redirect(c, loc+"json")
	}
	variant := "pypijson\x00" + version + "\x00" + ref.Base
	return h.serveDoc(c, ref, project, variant, "", func(v *formats.View) (*formats.Rendered, error) {
		b, err := renderJSONAPI(v, ref.Base, version)
		if err != nil {
			return nil, err
		}
		return &formats.Rendered{Body: b, ContentType: "application/json"}, nil
	})
}

// jsonAPIFile is a file of the JSON API.
type jsonAPIFile struct {
	CommentText       string            `json:"comment_text"`
	Digests           map[string]string `json:"digests"`
	Downloads         int               `json:"downloads"`
	Filename          string            `json:"filename"`
	HasSig            bool              `json:"has_sig"`
	MD5Digest         string            `json:"md5_digest,omitempty"`
	PackageType       string            `json:"packagetype"`
	PythonVersion     string            `json:"python_version"`
	RequiresPython    *string           `json:"requires_python"`
	Size              int64             `json:"size"`
	UploadTime        string            `json:"upload_time,omitempty"`
	UploadTimeISO8601 string            `json:"upload_time_iso_8601,omitempty"`
	URL               string            `json:"url"`
	Yanked            bool              `json:"yanked"`
	YankedReason      *string           `json:"yanked_reason"`
}

// jsonAPIInfo is the info object of the JSON API.
type jsonAPIInfo struct {
	Name                   string            `json:"name"`
	Version                string            `json:"version"`
	Summary                *string           `json:"summary"`
	Description            string            `json:"description"`
	DescriptionContentType *string           `json:"description_content_type"`
	Author                 string            `json:"author"`
	AuthorEmail            string            `json:"author_email"`
	Maintainer             string            `json:"maintainer"`
	MaintainerEmail        string            `json:"maintainer_email"`
	License                string            `json:"license"`
	HomePage               string            `json:"home_page"`
	Keywords               string            `json:"keywords"`
	RequiresPython         *string           `json:"requires_python"`
	RequiresDist           []string          `json:"requires_dist"`
	Classifiers            []string          `json:"classifiers"`
	ProjectURLs            map[string]string `json:"project_urls"`
	PackageURL             string            `json:"package_url"`
	ProjectURL             string            `json:"project_url"`
	ReleaseURL             string            `json:"release_url"`
	Yanked                 bool              `json:"yanked"`
	YankedReason           *string           `json:"yanked_reason"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// renderJSONAPI builds the project document, or the version document when
// version is set.
func renderJSONAPI(v *formats.View, base, version string) ([]byte, error) {
	project := v.Package.Name
	pg := buildPage(v, base, false)
	if len(pg.Versions) == 0 {
		return nil, fmt.Errorf("%w: project %s has no versions available in this repository", formats.ErrNotFound, project)
	}
	releases := map[string][]jsonAPIFile{}
	yankedAll := map[string]bool{}
	for _, ver := range pg.Versions {
		releases[ver] = []jsonAPIFile{}
		yankedAll[ver] = v.Versions[ver].Status == formats.StatusUnlisted
	}
	filesOf := map[string]int{}
	yankedFiles := map[string]int{}
	for _, f := range pg.Files {
		if f.Yanked {
			yankedFiles[f.Version]++
		}
		filesOf[f.Version]++
		releases[f.Version] = append(releases[f.Version], releaseFile(v, f, project))
	}
	for ver, n := range filesOf {
		if n > 0 && yankedFiles[ver] == n {
			yankedAll[ver] = true
		}
	}
	shown := version
	if shown == "" {
		shown = latest(pg.Versions, yankedAll)
	} else if _, ok := releases[shown]; !ok {
		return nil, fmt.Errorf("%w: version %s of %s is not available in this repository", formats.ErrNotFound, version, project)
	}
	m := decodeMeta(v.Versions[shown].Meta)
	info := jsonAPIInfo{
		Name: displayName(v, m), Version: shown, RequiresDist: nil, Classifiers: []string{},
		PackageURL: base + "/pypi/" + pathEscape(project) + "/", ProjectURL: base + "/pypi/" + pathEscape(project) + "/",
		ReleaseURL: base + "/pypi/" + pathEscape(project) + "/" + pathEscape(shown) + "/",
		Yanked:     yankedAll[shown],
	}
	if m.Info != nil {
		fillInfo(&info, m.Info)
	}
	if info.RequiresPython == nil {
		for _, f := range releases[shown] {
			if f.RequiresPython != nil {
				info.RequiresPython = f.RequiresPython
				break
			}
		}
	}
	if info.Yanked {
		for _, f := range releases[shown] {
			if f.YankedReason != nil {
				info.YankedReason = f.YankedReason
				break
			}
		}
	}
	out := map[string]any{
		"info":            info,
		"last_serial":     0,
		"urls":            releases[shown],
		"vulnerabilities": []any{},
	}
	if version == "" {
		out["releases"] = releases
	}
	return formats.MarshalJSON(out)
}

// releaseFile is one file of a release as the JSON API lists it.
func releaseFile(v *formats.View, f file, project string) jsonAPIFile {
	a := v.Versions[f.Version].Asset(f.Name)
	jf := jsonAPIFile{
		Digests: map[string]string{}, Downloads: -1, Filename: f.Name, PackageType: f.Meta.Kind,
		PythonVersion: f.Meta.PyVersion, RequiresPython: strPtr(f.Meta.RequiresPython), Size: f.Size,
		URL: f.URL, Yanked: f.Yanked,
	}
	if jf.PackageType == "" {
		if df, err := parseFilename(f.Name, project); err == nil {
			jf.PackageType, jf.PythonVersion = df.Kind, df.PyVersion
		}
	}
	if f.SHA256 != "" {
		jf.Digests["sha256"] = f.SHA256
	}
	if a != nil && a.Digests.MD5 != "" {
		jf.Digests["md5"] = a.Digests.MD5
		jf.MD5Digest = a.Digests.MD5
	}
	if f.Yanked {
		jf.YankedReason = strPtr(f.Reason)
	}
	if t, err := time.Parse(uploadLayout, f.Meta.UploadTime); err == nil {
		jf.UploadTime = t.Format("2006-01-02T15:04:05")
		jf.UploadTimeISO8601 = f.Meta.UploadTime
	}
	return jf
}

// fillInfo copies what a version's core metadata says into info.
func fillInfo(info *jsonAPIInfo, pi *projectInfo) {
	info.Summary, info.Description = strPtr(pi.Summary), pi.Description
	info.DescriptionContentType = strPtr(pi.DescriptionContentType)
	info.Author, info.AuthorEmail, info.Maintainer, info.MaintainerEmail = pi.Author, pi.AuthorEmail, pi.Maintainer, pi.MaintainerEmail
	info.License, info.HomePage, info.Keywords = pi.License, pi.HomePage, pi.Keywords
	info.RequiresPython = strPtr(pi.RequiresPython)
	info.RequiresDist = pi.RequiresDist
	if pi.Classifiers != nil {
		info.Classifiers = pi.Classifiers
	}
	for _, pu := range pi.ProjectURLs {
		if label, u, ok := cutComma(pu); ok {
			if info.ProjectURLs == nil {
				info.ProjectURLs = map[string]string{}
			}
			info.ProjectURLs[label] = u
		}
	}
}

// latest picks the version the JSON API describes: the highest final
// release that is not yanked, else the highest one not yanked, else the
// highest.
func latest(sorted []string, yanked map[string]bool) string {
	for i := len(sorted) - 1; i >= 0; i-- {
		if !yanked[sorted[i]] && !isPrerelease(sorted[i]) {
			return sorted[i]
		}
	}
	for i := len(sorted) - 1; i >= 0; i-- {
		if !yanked[sorted[i]] {
			return sorted[i]
		}
	}
	return sorted[len(sorted)-1]
}

// displayName is the project's name as published, when known.
func displayName(v *formats.View, m *versionMeta) string {
	if m.Info != nil && m.Info.Name != "" {
		return m.Info.Name
	}
	var extra struct {
		Name string `json:"name"`
	}
	if len(v.Extra) > 0 && json.Unmarshal(v.Extra, &extra) == nil && extra.Name != "" {
		return extra.Name
	}
	return v.Package.Name
}

// cutComma splits a Project-URL value, "Label, URL".
func cutComma(s string) (string, string, bool) {
	label, u, ok := strings.Cut(s, ",")
	label, u = strings.TrimSpace(label), strings.TrimSpace(u)
	return label, u, ok && label != "" && u != ""
}
