package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// pypiFixtureSpec: a project whose PEP 691 simple page lists every version's
// sdist and wheels, files in PyPI's hashed layout on the same nginx (PyPI
// keeps them on another host; one nginx serves both here), the newest
// wheel real with its PEP 658 .metadata.
var pypiFixtureSpec = formatFixtureSpec{
	scenario:   "warm-pypi",
	format:     "pypi",
	connection: "public:pypi",
	connPath:   "/simple/",
	types:      map[string]string{"json": pypiJSONType, "whl": "application/octet-stream", "gz": "application/octet-stream", "metadata": "application/octet-stream"},
	// /simple/{project}/ is a directory: its page is index.json there.
	locations: `        location /simple/ {
            index index.json;
        }

        location / {
        }`,
	generate: func(base string) (*FormatFixture, error) { return generatePyPIFixture(base, "stockpile-bench-pypi") },
}

// pypiJSONType is PEP 691's media type of a JSON simple page.
const pypiJSONType = "application/vnd.pypi.simple.v1+json"

// pypiFilePath is where PyPI keeps a file: /packages/{2}/{2}/{60}/{name},
// from the file's sha256 (its blake2b on PyPI; the shape is the same).
func pypiFilePath(sha256hex, filename string) string {
	return "/packages/" + sha256hex[:2] + "/" + sha256hex[2:4] + "/" + sha256hex[4:] + "/" + filename
}

// generatePyPIFixture builds project (a normalized name): formatVersions
// versions, each with an sdist and two wheels; the newest pure-Python wheel
// exists (a real zip with its dist-info), the other files are listed with
// placeholder digests.
func generatePyPIFixture(base, project string) (*FormatFixture, error) {
	base = strings.TrimSuffix(base, "/")
	rng := fxRNG("pypi/" + project)
	dist := strings.ReplaceAll(project, "-", "_")
	versions := fxVersions(formatVersions)
	newest := versions[len(versions)-1]

	wheelName := fmt.Sprintf("%s-%s-py3-none-any.whl", dist, newest)
	metadata := []byte(fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: A generated benchmark fixture\nHome-page: https://example.com/%s\nAuthor: Bench Maintainer\nAuthor-email: maintainer@example.com\nLicense: MIT\nRequires-Python: >=3.8\nRequires-Dist: requests (>=2.28)\nRequires-Dist: urllib3 (<3,>=1.26)\nDescription-Content-Type: text/markdown\n\n# %s\n\nA generated package for benchmarking.\n", project, newest, project, project))
	distInfo := fmt.Sprintf("%s-%s.dist-info", dist, newest)
	payload := fxRandom(rng, formatArtifactSize)
	files := []archiveFile{
		{dist + "/__init__.py", []byte("__version__ = \"" + newest + "\"\n")},
		{dist + "/_data.bin", payload},
		{distInfo + "/METADATA", metadata},
		{distInfo + "/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: stockpile-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
		{distInfo + "/top_level.txt", []byte(dist + "\n")},
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.Body)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	files = append(files, archiveFile{distInfo + "/RECORD", []byte(record.String())})
	wheel, err := fxZip(files)
	if err != nil {
		return nil, fmt.Errorf("pypi fixture: %w", err)
	}
	wheelSum := fxSHA256(wheel)

	type jsonFile struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython string            `json:"requires-python"`
		CoreMetadata   any               `json:"core-metadata"`
		DistInfo       any               `json:"dist-info-metadata"`
		Size           int               `json:"size"`
		UploadTime     string            `json:"upload-time"`
		Yanked         bool              `json:"yanked"`
	}
	page := struct {
		Meta     map[string]any `json:"meta"`
		Name     string         `json:"name"`
		Files    []jsonFile     `json:"files"`
		Versions []string       `json:"versions"`
	}{Meta: map[string]any{"api-version": "1.1", "_last-serial": 24681357}, Name: project, Versions: versions}

	out := map[string][]byte{}
	for i, v := range versions {
		up := fxPublished(i).Format("2006-01-02T15:04:05.000000Z")
		names := []string{
			fmt.Sprintf("%s-%s.tar.gz", dist, v),
			fmt.Sprintf("%s-%s-py3-none-any.whl", dist, v),
			fmt.Sprintf("%s-%s-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", dist, v),
		}
		for _, name := range names {
			sum, size := fxPlaceholder(project+"/"+name), 240_000+i*113
			meta := fxPlaceholder(project + "/" + name + ".metadata")
			if name == wheelName {
				sum, size, meta = wheelSum, len(wheel), fxSHA256(metadata)
			}
			jf := jsonFile{
				Filename: name, URL: base + pypiFilePath(sum, name),
				Hashes:         map[string]string{"sha256": sum},
				RequiresPython: ">=3.8", Size: size, UploadTime: up,
				CoreMetadata: false, DistInfo: false,
			}
			if strings.HasSuffix(name, ".whl") {
				jf.CoreMetadata = map[string]string{"sha256": meta}
				jf.DistInfo = jf.CoreMetadata
			}
			page.Files = append(page.Files, jf)
		}
	}
	doc, err := json.Marshal(page)
	if err != nil {
		return nil, fmt.Errorf("pypi fixture: %w", err)
	}
	wheelPath := pypiFilePath(wheelSum, wheelName)
	out["simple/"+project+"/index.json"] = doc
	out[strings.TrimPrefix(wheelPath, "/")] = wheel
	out[strings.TrimPrefix(wheelPath, "/")+".metadata"] = metadata
	return &FormatFixture{
		Files: out,
		Metadata: FixtureDoc{Pair: "simple page", NginxPath: "/simple/" + project + "/", StockpilePath: "/simple/" + project + "/",
			Accept: pypiJSONType, Body: doc, Contains: wheelName},
		Artifact: FixtureDoc{Pair: "wheel", NginxPath: wheelPath, StockpilePath: "/simple/" + project + "/" + newest + "/" + wheelName, Body: wheel},
		Info: map[string]any{"project": project, "versions": len(versions), "files": len(page.Files), "version": newest,
			"page_bytes": len(doc), "wheel": wheelName, "wheel_bytes": len(wheel)},
	}, nil
}
