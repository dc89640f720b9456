package maven

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"time"
)

// xmlMetadata is maven-metadata.xml at any level, as read from an upstream
// or a client. Element names match in any XML namespace.
type xmlMetadata struct {
	XMLName    xml.Name       `xml:"metadata"`
	GroupID    string         `xml:"groupId"`
	ArtifactID string         `xml:"artifactId"`
	Version    string         `xml:"version"`
	Versioning *xmlVersioning `xml:"versioning"`
	Plugins    []xmlPlugin    `xml:"plugins>plugin"`
}

type xmlVersioning struct {
	Latest           string               `xml:"latest"`
	Release          string               `xml:"release"`
	Snapshot         *xmlSnapshot         `xml:"snapshot"`
	Versions         []string             `xml:"versions>version"`
	LastUpdated      string               `xml:"lastUpdated"`
	SnapshotVersions []xmlSnapshotVersion `xml:"snapshotVersions>snapshotVersion"`
}

type xmlSnapshot struct {
	Timestamp   string `xml:"timestamp"`
	BuildNumber string `xml:"buildNumber"`
	LocalCopy   bool   `xml:"localCopy"`
}

type xmlSnapshotVersion struct {
	Classifier string `xml:"classifier"`
	Extension  string `xml:"extension"`
	Value      string `xml:"value"`
	Updated    string `xml:"updated"`
}

type xmlPlugin struct {
	Name       string `xml:"name" json:"name,omitempty"`
	Prefix     string `xml:"prefix" json:"prefix"`
	ArtifactID string `xml:"artifactId" json:"artifactId"`
}

// maxMetadata bounds a metadata document a client uploads.
const maxMetadata = 16 << 20

// parseMetadata reads a maven-metadata.xml document. Anything that is not
// an XML <metadata> document (an HTML error page, a JSON error) is an error.
func parseMetadata(b []byte) (*xmlMetadata, error) {
	var m xmlMetadata
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a maven-metadata.xml document: %v", err)
	}
	m.GroupID = strings.TrimSpace(m.GroupID)
	m.ArtifactID = strings.TrimSpace(m.ArtifactID)
	m.Version = strings.TrimSpace(m.Version)
	if v := m.Versioning; v != nil {
		for i := range v.Versions {
			v.Versions[i] = strings.TrimSpace(v.Versions[i])
		}
		v.LastUpdated = strings.TrimSpace(v.LastUpdated)
		if s := v.Snapshot; s != nil {
			s.Timestamp, s.BuildNumber = strings.TrimSpace(s.Timestamp), strings.TrimSpace(s.BuildNumber)
		}
	}
	for i := range m.Plugins {
		p := &m.Plugins[i]
		p.Name, p.Prefix, p.ArtifactID = strings.TrimSpace(p.Name), strings.TrimSpace(p.Prefix), strings.TrimSpace(p.ArtifactID)
	}
	return &m, nil
}

// Time formats of Maven metadata, UTC.
const (
	lastUpdatedLayout = "20060102150405"
	timestampLayout   = "20060102.150405"
)

func parseLastUpdated(s string) time.Time {
	t, err := time.Parse(lastUpdatedLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// artifactMetadata is what artifact-level metadata says.
type artifactMetadata struct {
	Group, Artifact string
	Versions        []string // any order; sorted when written
	LastUpdated     time.Time
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// render writes artifact-level metadata the way Maven itself lays it out:
// versions in Maven's order, latest the highest, release the highest that
// is not a snapshot, two-space indent, a final newline. The same input gives
// the same bytes, so checksums hold until a version is added.
func (m *artifactMetadata) render() []byte {
	vs := append([]string(nil), m.Versions...)
	sortVersions(vs)
	var latest, release string
	if len(vs) > 0 {
		latest = vs[len(vs)-1]
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if !isSnapshot(vs[i]) {
			release = vs[i]
			break
		}
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n")
	fmt.Fprintf(&b, "  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <versioning>\n", esc(m.Group), esc(m.Artifact))
	if latest != "" {
		fmt.Fprintf(&b, "    <latest>%s</latest>\n", esc(latest))
	}
	if release != "" {
		fmt.Fprintf(&b, "    <release>%s</release>\n", esc(release))
	}
	b.WriteString("    <versions>\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "      <version>%s</version>\n", esc(v))
	}
	b.WriteString("    </versions>\n")
	if !m.LastUpdated.IsZero() {
		fmt.Fprintf(&b, "    <lastUpdated>%s</lastUpdated>\n", m.LastUpdated.UTC().Format(lastUpdatedLayout))
	}
	b.WriteString("  </versioning>\n</metadata>\n")
	return []byte(b.String())
}

// snapshotFile is one file of a snapshot build, for version-level metadata.
type snapshotFile struct {
	Classifier, Extension string
}

// snapshotMetadata is the version-level metadata of a hosted snapshot: the
// newest build only, so Maven never picks an older one.
type snapshotMetadata struct {
	Group, Artifact, Version string // Version: 1.0-SNAPSHOT
	Timestamp                string // 20240502.141207
	BuildNumber              string
	Files                    []snapshotFile
}

func (m *snapshotMetadata) render() []byte {
	files := append([]snapshotFile(nil), m.Files...)
	sort.Slice(files, func(i, j int) bool {
		if files[i].Classifier != files[j].Classifier {
			return files[i].Classifier < files[j].Classifier
		}
		return files[i].Extension < files[j].Extension
	})
	updated := strings.ReplaceAll(m.Timestamp, ".", "")
	value := strings.TrimSuffix(m.Version, snapshotSuffix) + "-" + m.Timestamp + "-" + m.BuildNumber
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n")
	fmt.Fprintf(&b, "  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <version>%s</version>\n", esc(m.Group), esc(m.Artifact), esc(m.Version))
	b.WriteString("  <versioning>\n    <snapshot>\n")
	fmt.Fprintf(&b, "      <timestamp>%s</timestamp>\n      <buildNumber>%s</buildNumber>\n", esc(m.Timestamp), esc(m.BuildNumber))
	fmt.Fprintf(&b, "    </snapshot>\n    <lastUpdated>%s</lastUpdated>\n    <snapshotVersions>\n", esc(updated))
	for _, f := range files {
		b.WriteString("      <snapshotVersion>\n")
		if f.Classifier != "" {
			fmt.Fprintf(&b, "        <classifier>%s</classifier>\n", esc(f.Classifier))
		}
		fmt.Fprintf(&b, "        <extension>%s</extension>\n        <value>%s</value>\n        <updated>%s</updated>\n", esc(f.Extension), esc(value), esc(updated))
		b.WriteString("      </snapshotVersion>\n")
	}
	b.WriteString("    </snapshotVersions>\n  </versioning>\n</metadata>\n")
	return []byte(b.String())
}

// renderPlugins writes group-level metadata: the plugin prefix map of a
// groupId, ordered by artifactId.
func renderPlugins(plugins []xmlPlugin) []byte {
	ps := append([]xmlPlugin(nil), plugins...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].ArtifactID < ps[j].ArtifactID })
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <plugins>\n")
	for _, p := range ps {
		b.WriteString("    <plugin>\n")
		if p.Name != "" {
			fmt.Fprintf(&b, "      <name>%s</name>\n", esc(p.Name))
		}
		fmt.Fprintf(&b, "      <prefix>%s</prefix>\n      <artifactId>%s</artifactId>\n", esc(p.Prefix), esc(p.ArtifactID))
		b.WriteString("    </plugin>\n")
	}
	b.WriteString("  </plugins>\n</metadata>\n")
	return []byte(b.String())
}
