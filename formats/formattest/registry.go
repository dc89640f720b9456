package formattest

import (
	"fmt"
	"strings"
)

// These lay files out as the public registries serve them, for the fake
// upstreams of the format tests and the bench's nginx alike.

// MavenMetadata is an artifact-level maven-metadata.xml listing versions
// as given (some repositories do not sort them), the last one as latest
// and release.
func MavenMetadata(group, artifact, lastUpdated string, versions ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <versioning>\n", group, artifact)
	if len(versions) > 0 {
		fmt.Fprintf(&b, "    <latest>%s</latest>\n    <release>%s</release>\n", versions[len(versions)-1], versions[len(versions)-1])
	}
	b.WriteString("    <versions>\n")
	for _, v := range versions {
		fmt.Fprintf(&b, "      <version>%s</version>\n", v)
	}
	fmt.Fprintf(&b, "    </versions>\n    <lastUpdated>%s</lastUpdated>\n  </versioning>\n</metadata>\n", lastUpdated)
	return []byte(b.String())
}

// CargoIndexDir is the directory of a crate's file in a Cargo index, for
// a lower-case name: 1, 2, 3/{first letter}, or {first two}/{next two}
// (The Cargo Book, "Registry index", index files).
func CargoIndexDir(name string) string {
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

// PyPIFilePath is where PyPI keeps a file, /packages/{2}/{2}/{60}/{name},
// here from the file's SHA-256 (PyPI uses its BLAKE2b; the shape is the
// same).
func PyPIFilePath(sha256Hex, filename string) string {
	return "/packages/" + sha256Hex[:2] + "/" + sha256Hex[2:4] + "/" + sha256Hex[4:] + "/" + filename
}

// PyPIPage is a project's simple page in PEP 691's JSON form (with PEP
// 700's versions, sizes and upload times), as the fake indexes of the
// format tests and the bench's nginx serve it.
type PyPIPage struct {
	Meta     map[string]any `json:"meta"`
	Name     string         `json:"name"`
	Files    []PyPIFile     `json:"files"`
	Versions []string       `json:"versions"`
}

// PyPIFile is one file of a PyPIPage. CoreMetadata and DistInfo are false
// or {"sha256": …} (PEP 714 and PEP 658); Yanked is false, true or the
// reason; RequiresPython nil is null.
type PyPIFile struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython *string           `json:"requires-python"`
	CoreMetadata   any               `json:"core-metadata"`
	DistInfo       any               `json:"dist-info-metadata"`
	Size           int               `json:"size"`
	UploadTime     string            `json:"upload-time,omitempty"`
	Yanked         any               `json:"yanked"`
}
