package formattest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Wheel builds a wheel (PEP 427) of files, one of them below distInfo
// ("demo-1.0.dist-info"), and appends distInfo/RECORD listing each with its
// urlsafe-base64 SHA-256 and size, RECORD itself without.
func Wheel(distInfo string, files ...File) []byte {
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.Body)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	return Zip(append(slices.Clone(files), Text(distInfo+"/RECORD", record.String()))...)
}

// Nupkg builds a .nupkg as nuget pack lays one out: the OPC relationship
// part pointing at {id}.nuspec, the nuspec, files, and the content types
// of the extensions used.
func Nupkg(id string, nuspec []byte, files ...File) []byte {
	exts := []string{"rels", "nuspec"}
	for _, f := range files {
		if e := strings.TrimPrefix(path.Ext(f.Name), "."); e != "" && !slices.Contains(exts, e) {
			exts = append(exts, e)
		}
	}
	var types strings.Builder
	types.WriteString(`<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`)
	for _, e := range exts {
		typ := "application/octet"
		if e == "rels" {
			typ = "application/vnd.openxmlformats-package.relationships+xml"
		}
		fmt.Fprintf(&types, `<Default Extension="%s" ContentType="%s" />`, e, typ)
	}
	types.WriteString(`</Types>`)
	parts := []File{
		Text("_rels/.rels", `<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/`+id+`.nuspec" Id="R1" /></Relationships>`),
		{Name: id + ".nuspec", Body: nuspec},
	}
	parts = append(parts, files...)
	return Zip(append(parts, Text("[Content_Types].xml", types.String()))...)
}

// Gem builds a .gem as gem build does: a plain tar of metadata.gz (the
// gemspec as YAML), data.tar.gz (files) and checksums.yaml.gz (the SHA-256
// of the other two).
func Gem(specYAML string, files ...File) []byte {
	data := TarGz(files...)
	metadata := Gzip([]byte(specYAML))
	checksums := Gzip(fmt.Appendf(nil, "---\nSHA256:\n  metadata.gz: %s\n  data.tar.gz: %s\n", SHA256(metadata), SHA256(data)))
	return Tar(File{"metadata.gz", metadata}, File{"data.tar.gz", data}, File{"checksums.yaml.gz", checksums})
}

// Crate builds a .crate as cargo package does: a gzip-compressed tar of
// files below {name}-{version}/.
func Crate(name, version string, files ...File) []byte {
	in := make([]File, len(files))
	for i, f := range files {
		in[i] = File{Name: name + "-" + version + "/" + f.Name, Body: f.Body}
	}
	return TarGz(in...)
}
