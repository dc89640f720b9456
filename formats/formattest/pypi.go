package formattest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PyPIJSON is PEP 691's media type of a JSON simple page.
const PyPIJSON = "application/vnd.pypi.simple.v1+json"

// PyPIRegistry lays project (a normalized name) out as PyPI serves it for a
// registry at base: a PEP 691 simple page at /simple/{project}/ (its
// index.json) listing VersionCount versions of an sdist and two wheels
// each, files in PyPI's hashed layout (PyPI keeps them on another host;
// here one host serves both). The newest pure-Python wheel is real, with
// its PEP 658 .metadata; the other files are listed with placeholder
// digests.
func PyPIRegistry(base, project string) *Registry {
	base = strings.TrimSuffix(base, "/")
	dist := strings.ReplaceAll(project, "-", "_")
	versions := releases()
	newest := versions[len(versions)-1]

	wheelName := fmt.Sprintf("%s-%s-py3-none-any.whl", dist, newest)
	metadata := fmt.Appendf(nil, "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: A generated fixture\nLicense: MIT\nRequires-Python: >=3.8\nRequires-Dist: requests (>=2.28)\nDescription-Content-Type: text/markdown\n\n# %s\n", project, newest, project)
	distInfo := fmt.Sprintf("%s-%s.dist-info", dist, newest)
	wheel := Wheel(distInfo,
		Text(dist+"/__init__.py", "__version__ = \""+newest+"\"\n"),
		File{Name: dist + "/_data.bin", Body: Random(RNG("pypi/"+project), ArtifactSize)},
		File{Name: distInfo + "/METADATA", Body: metadata},
		Text(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: formattest\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
	)
	wheelSum := SHA256(wheel)

	requires := ">=3.8"
	page := PyPIPage{Meta: map[string]any{"api-version": "1.1", "_last-serial": 24681357}, Name: project, Versions: versions}
	for i, v := range versions {
		for _, name := range []string{dist + "-" + v + ".tar.gz", dist + "-" + v + "-py3-none-any.whl",
			dist + "-" + v + "-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"} {
			sum, size, meta := placeholder(project+"/"+name), 240_000+i*113, placeholder(project+"/"+name+".metadata")
			if name == wheelName {
				sum, size, meta = wheelSum, len(wheel), SHA256(metadata)
			}
			f := PyPIFile{Filename: name, URL: base + PyPIFilePath(sum, name), Hashes: map[string]string{"sha256": sum},
				RequiresPython: &requires, Size: size, UploadTime: publishedAt(i).Format("2006-01-02T15:04:05.000000Z"),
				CoreMetadata: false, DistInfo: false, Yanked: false}
			if strings.HasSuffix(name, ".whl") {
				f.CoreMetadata = map[string]string{"sha256": meta}
				f.DistInfo = f.CoreMetadata
			}
			page.Files = append(page.Files, f)
		}
	}
	doc, err := json.Marshal(page)
	must(err)
	wheelPath := PyPIFilePath(wheelSum, wheelName)
	return &Registry{
		Files: map[string][]byte{"simple/" + project + "/index.json": doc, wheelPath[1:]: wheel, wheelPath[1:] + ".metadata": metadata},
		Types: map[string]string{"json": PyPIJSON, "whl": "application/octet-stream", "gz": "application/octet-stream", "metadata": "application/octet-stream"},
		Metadata: Doc{Pair: "simple page", Path: "/simple/" + project + "/", ProxyPath: "/simple/" + project + "/",
			Accept: PyPIJSON, Body: doc, Contains: wheelName},
		Artifact: Doc{Pair: "wheel", Path: wheelPath, ProxyPath: "/simple/" + project + "/" + newest + "/" + wheelName, Body: wheel},
		Info: map[string]any{"project": project, "versions": len(versions), "files": len(page.Files), "version": newest,
			"page_bytes": len(doc), "wheel": wheelName, "wheel_bytes": len(wheel)},
	}
}
