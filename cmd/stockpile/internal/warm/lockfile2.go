package warm

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// npmNameVersion splits "name@version" ("@scope/name@version" too).
func npmNameVersion(s string) (name, version string, ok bool) {
	i := strings.LastIndex(s, "@")
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// parseYarnLock reads yarn.lock: Yarn 1's own format
// (https://classic.yarnpkg.com/en/docs/yarn-lock) or, from Yarn 2 on,
// YAML whose entries resolve to "name@npm:version". Yarn 2+'s checksums
// are of its own zip archives, not of the tarballs, so only Yarn 1's
// integrity is checked.
func parseYarnLock(b []byte) ([]Artifact, error) {
	if bytes.Contains(b, []byte("\n__metadata:")) || bytes.HasPrefix(b, []byte("__metadata:")) {
		return parseYarnBerry(b)
	}
	var out []Artifact
	seen := map[string]bool{}
	var cur *Artifact
	resolved := ""
	flush := func() {
		if cur != nil && cur.Version != "" && strings.Contains(resolved, "/-/") {
			if k := cur.Name + "@" + cur.Version; !seen[k] {
				seen[k] = true
				out = append(out, *cur)
			}
		}
		cur, resolved = nil, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line[0] != ' ' && strings.HasSuffix(line, ":"):
			flush()
			spec := strings.Trim(strings.TrimSpace(strings.Split(strings.TrimSuffix(line, ":"), ",")[0]), `"`)
			// "name@range": the name ends at the first "@" after a scope's
			i := strings.Index(spec[min(1, len(spec)):], "@") + 1
			if i <= 0 {
				continue
			}
			name, rng := spec[:i], spec[i+1:]
			if real, ok := strings.CutPrefix(rng, "npm:"); ok { // an alias
				if n, _, ok := npmNameVersion(real); ok {
					name = n
				}
			}
			cur = &Artifact{Format: "npm", Name: name}
		case cur != nil && strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "    "):
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			v = strings.Trim(v, `"`)
			switch k {
			case "version":
				cur.Version = v
			case "resolved":
				resolved = v
			case "integrity":
				cur.Digests = sri(v)
			}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sortArtifacts(out)
	return out, nil
}

func parseYarnBerry(b []byte) ([]Artifact, error) {
	var doc map[string]struct {
		Resolution string `yaml:"resolution"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a yarn.lock: %w", err)
	}
	var out []Artifact
	seen := map[string]bool{}
	for key, e := range doc {
		if key == "__metadata" {
			continue
		}
		name, ver, ok := npmNameVersion(e.Resolution)
		v, isNPM := strings.CutPrefix(ver, "npm:")
		if !ok || !isNPM {
			continue // workspace:, patch:, git, file and link resolutions
		}
		if !seen[name+"@"+v] {
			seen[name+"@"+v] = true
			out = append(out, Artifact{Format: "npm", Name: name, Version: v})
		}
	}
	sortArtifacts(out)
	return out, nil
}

// peerSuffix is pnpm's "(peer@1.0.0)" suffix of a package key.
var peerSuffix = regexp.MustCompile(`\(.*$`)

// parsePnpmLock reads pnpm-lock.yaml, versions 5 to 9
// (https://github.com/pnpm/spec/tree/master/lockfile): its packages keyed
// "/name/version" (5), "/name@version" (6) or "name@version" (9), each
// with its resolution's integrity. Tarball, git and directory resolutions
// are skipped.
func parsePnpmLock(b []byte) ([]Artifact, error) {
	var doc struct {
		LockfileVersion any `yaml:"lockfileVersion"`
		Packages        map[string]struct {
			Resolution map[string]string `yaml:"resolution"`
			Name       string            `yaml:"name"`
			Version    string            `yaml:"version"`
		} `yaml:"packages"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a pnpm-lock.yaml: %w", err)
	}
	major, _ := strconv.ParseFloat(strings.Trim(fmt.Sprint(doc.LockfileVersion), "'\""), 64)
	if major == 0 {
		return nil, fmt.Errorf("not a pnpm-lock.yaml: no lockfileVersion")
	}
	var out []Artifact
	seen := map[string]bool{}
	for key, e := range doc.Packages {
		if e.Resolution["integrity"] == "" || e.Resolution["tarball"] != "" || e.Resolution["type"] != "" {
			continue
		}
		k := peerSuffix.ReplaceAllString(strings.TrimPrefix(key, "/"), "")
		var name, ver string
		var ok bool
		if major < 6 {
			i := strings.LastIndex(k, "/")
			name, ver, ok = k[:max(i, 0)], k[i+1:], i > 0
			if j := strings.Index(ver, "_"); j >= 0 { // v5's peer suffix
				ver = ver[:j]
			}
		} else {
			name, ver, ok = npmNameVersion(k)
		}
		if e.Name != "" && e.Version != "" {
			name, ver, ok = e.Name, e.Version, true
		}
		if !ok || seen[name+"@"+ver] {
			continue
		}
		seen[name+"@"+ver] = true
		out = append(out, Artifact{Format: "npm", Name: name, Version: ver, Digests: sri(e.Resolution["integrity"])})
	}
	sortArtifacts(out)
	return out, nil
}

// hashDigests reads "sha256:HEX" hashes (Pipfile.lock, poetry.lock, uv.lock).
func hashDigests(hashes ...string) []Digest {
	var out []Digest
	for _, h := range hashes {
		algo, hx, ok := strings.Cut(h, ":")
		if sum, err := hex.DecodeString(hx); ok && err == nil {
			out = append(out, Digest{Algo: algo, Sum: sum})
		}
	}
	return out
}

// parsePipfileLock reads Pipfile.lock (pipenv): its default and develop
// packages pinned with "==", with their hashes.
func parsePipfileLock(b []byte) ([]Artifact, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a Pipfile.lock: %w", err)
	}
	if doc["_meta"] == nil {
		return nil, fmt.Errorf("not a Pipfile.lock: no _meta")
	}
	var out []Artifact
	seen := map[string]bool{}
	for _, group := range []string{"default", "develop"} {
		var pkgs map[string]struct {
			Version string   `json:"version"`
			Hashes  []string `json:"hashes"`
		}
		if doc[group] == nil {
			continue
		}
		if err := json.Unmarshal(doc[group], &pkgs); err != nil {
			return nil, fmt.Errorf("not a Pipfile.lock: %s: %w", group, err)
		}
		for name, p := range pkgs {
			v, ok := strings.CutPrefix(p.Version, "==") // git, path and editable entries have none
			if ok && !seen[name+"=="+v] {
				seen[name+"=="+v] = true // in both groups: listed once
				out = append(out, Artifact{Format: "pypi", Name: name, Version: v, Digests: hashDigests(p.Hashes...)})
			}
		}
	}
	sortArtifacts(out)
	return out, nil
}

// parsePoetryLock reads poetry.lock: [[package]] with its files (inline
// since Poetry 1.2, or under [metadata.files] before); git, url, file and
// directory sources are skipped.
func parsePoetryLock(b []byte) ([]Artifact, error) {
	type file struct {
		File string `toml:"file"`
		Hash string `toml:"hash"`
	}
	var doc struct {
		Package []struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
			Files   []file `toml:"files"`
			Source  struct {
				Type string `toml:"type"`
			} `toml:"source"`
		} `toml:"package"`
		Metadata struct {
			Files map[string][]file `toml:"files"`
		} `toml:"metadata"`
	}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return nil, fmt.Errorf("not a poetry.lock: %w", err)
	}
	var out []Artifact
	for _, p := range doc.Package {
		if t := p.Source.Type; t != "" && t != "legacy" {
			continue
		}
		files := p.Files
		if len(files) == 0 {
			files = doc.Metadata.Files[p.Name]
		}
		a := Artifact{Format: "pypi", Name: p.Name, Version: p.Version}
		for _, f := range files {
			a.Digests = append(a.Digests, hashDigests(f.Hash)...)
		}
		out = append(out, a)
	}
	sortArtifacts(out)
	return out, nil
}

// parseUVLock reads uv.lock: packages from a registry with their sdist
// and wheels' hashes (https://docs.astral.sh/uv/concepts/projects/sync/).
func parseUVLock(b []byte) ([]Artifact, error) {
	type file struct {
		Hash string `toml:"hash"`
	}
	var doc struct {
		Package []struct {
			Name    string         `toml:"name"`
			Version string         `toml:"version"`
			Source  map[string]any `toml:"source"`
			Sdist   *file          `toml:"sdist"`
			Wheels  []file         `toml:"wheels"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return nil, fmt.Errorf("not a uv.lock: %w", err)
	}
	var out []Artifact
	for _, p := range doc.Package {
		if _, ok := p.Source["registry"]; !ok {
			continue // the project, workspace members, git, path and URL sources
		}
		a := Artifact{Format: "pypi", Name: p.Name, Version: p.Version}
		if p.Sdist != nil {
			a.Digests = append(a.Digests, hashDigests(p.Sdist.Hash)...)
		}
		for _, w := range p.Wheels {
			a.Digests = append(a.Digests, hashDigests(w.Hash)...)
		}
		out = append(out, a)
	}
	sortArtifacts(out)
	return out, nil
}

// parseNuGetLock reads a NuGet packages.lock.json: every resolved package
// of every target framework (project references skipped), its
// contentHash being the SHA-512 of the .nupkg
// (https://learn.microsoft.com/nuget/consume-packages/package-references-in-project-files#locking-dependencies).
func parseNuGetLock(b []byte) ([]Artifact, error) {
	var doc struct {
		Version      int `json:"version"`
		Dependencies map[string]map[string]struct {
			Type        string `json:"type"`
			Resolved    string `json:"resolved"`
			ContentHash string `json:"contentHash"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a packages.lock.json: %w", err)
	}
	if doc.Version == 0 {
		return nil, fmt.Errorf("not a packages.lock.json: no version")
	}
	var out []Artifact
	at := map[string]int{} // a package of several frameworks is listed once, with its hash
	for _, deps := range doc.Dependencies {
		for id, d := range deps {
			if d.Type == "Project" || d.Resolved == "" {
				continue
			}
			k := strings.ToLower(id + "@" + d.Resolved)
			i, seen := at[k]
			if !seen {
				i = len(out)
				at[k] = i
				out = append(out, Artifact{Format: "nuget", Name: id, Version: d.Resolved})
			}
			if sum, err := base64.StdEncoding.DecodeString(d.ContentHash); err == nil && len(sum) == 64 && out[i].Digests == nil {
				out[i].Digests = []Digest{{Algo: "sha512", Sum: sum}}
			}
		}
	}
	sortArtifacts(out)
	return out, nil
}

// mavenListHeader begins the list `mvn dependency:list` writes
// (https://maven.apache.org/plugins/maven-dependency-plugin/list-mojo.html).
const mavenListHeader = "The following files have been resolved:"

// parseMavenList reads the output of mvn dependency:list (its console
// output, with "[INFO]" prefixes, or its -DoutputFile): lines
// "group:artifact:type[:classifier]:version:scope", possibly followed by
// " -- module …". Name is "group:artifact", Platform carries
// "type[:classifier]".
func parseMavenList(b []byte) ([]Artifact, error) {
	var out []Artifact
	seen := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "[INFO]"))
		if strings.Contains(line, mavenListHeader) {
			in = true
			continue
		}
		if !in {
			continue
		}
		if line == "" || line == "none" {
			in = line == "" && len(out) == 0 // a blank line ends the list once it has begun
			continue
		}
		line, _, _ = strings.Cut(line, " -- ")
		f := strings.Split(strings.TrimSpace(line), ":")
		var a Artifact
		switch len(f) {
		case 5: // group:artifact:type:version:scope
			a = Artifact{Format: "maven", Name: f[0] + ":" + f[1], Platform: f[2], Version: f[3]}
		case 6: // group:artifact:type:classifier:version:scope
			a = Artifact{Format: "maven", Name: f[0] + ":" + f[1], Platform: f[2] + ":" + f[3], Version: f[4]}
		default:
			in = false
			continue
		}
		if k := a.String(); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	sortArtifacts(out)
	return out, nil
}
