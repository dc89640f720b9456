package pypi

import (
	"encoding/json"
	"strings"
)

// versionMeta is what Stockpile keeps in formats.Version.Meta for a PyPI
// version: what the simple API says per file beyond name, location and
// digests, and the core-metadata fields an upload carried (for the JSON API).
type versionMeta struct {
	Files map[string]*fileMeta `json:"files,omitempty"`
	Info  *projectInfo         `json:"info,omitempty"`
}

// fileMeta is the per-file part of a simple page (PEP 503, 592, 658, 700).
type fileMeta struct {
	RequiresPython string `json:"requiresPython,omitempty"`
	// Yanked is the upstream's PEP 592 mark, with its reason when given.
	Yanked       bool   `json:"yanked,omitempty"`
	YankedReason string `json:"yankedReason,omitempty"`
	UploadTime   string `json:"uploadTime,omitempty"` // yyyy-mm-ddThh:mm:ss.ffffffZ
	// CoreMetadata is the sha256 of the file's core metadata (PEP 658),
	// empty when unknown.
	CoreMetadata string `json:"coreMetadata,omitempty"`
	// CoreMetadataUpstream is true when the upstream serves the core
	// metadata at the file's URL + ".metadata".
	CoreMetadataUpstream bool   `json:"coreMetadataUpstream,omitempty"`
	Kind                 string `json:"kind,omitempty"`      // bdist_wheel, sdist, bdist_egg
	PyVersion            string `json:"pyversion,omitempty"` // py3, source...
}

// projectInfo is the subset of core metadata the JSON API shows, from the
// fields of an upload.
type projectInfo struct {
	Name                   string   `json:"name,omitempty"`
	Summary                string   `json:"summary,omitempty"`
	Description            string   `json:"description,omitempty"`
	DescriptionContentType string   `json:"description_content_type,omitempty"`
	Author                 string   `json:"author,omitempty"`
	AuthorEmail            string   `json:"author_email,omitempty"`
	Maintainer             string   `json:"maintainer,omitempty"`
	MaintainerEmail        string   `json:"maintainer_email,omitempty"`
	License                string   `json:"license,omitempty"`
	HomePage               string   `json:"home_page,omitempty"`
	Keywords               string   `json:"keywords,omitempty"`
	RequiresPython         string   `json:"requires_python,omitempty"`
	RequiresDist           []string `json:"requires_dist,omitempty"`
	Classifiers            []string `json:"classifiers,omitempty"`
	ProjectURLs            []string `json:"project_urls,omitempty"` // "Label, URL"
}

// decodeMeta reads a version's Meta; anything unreadable counts as empty
// (a version relayed from elsewhere may carry another shape).
func decodeMeta(raw json.RawMessage) *versionMeta {
	m := &versionMeta{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, m)
	}
	if m.Files == nil {
		m.Files = map[string]*fileMeta{}
	}
	return m
}

func (m *versionMeta) encode() json.RawMessage {
	b, _ := json.Marshal(m)
	return b
}

// file returns the entry for a file name, never nil.
func (m *versionMeta) file(name string) *fileMeta {
	if f := m.Files[name]; f != nil {
		return f
	}
	return &fileMeta{}
}

// isCoreMetadataName reports whether a requested file name is the PEP 658
// sidecar of a distribution, and returns the distribution's name.
func isCoreMetadataName(name string) (string, bool) {
	dist, ok := strings.CutSuffix(name, ".metadata")
	if !ok || dist == "" {
		return "", false
	}
	return dist, true
}
