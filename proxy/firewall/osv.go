package firewall

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Known-malicious versions come from advisories in the OSV format
// (https://ossf.github.io/osv-schema/), as the OpenSSF malicious-packages
// data set publishes them: one JSON document per advisory, each naming
// affected packages by ecosystem and name, with the affected versions
// listed (affected[].versions) or, for a package that is malicious
// throughout, a range introduced at "0" and never fixed.

// Bounds of what is read: a data set is a directory tree or a zip archive
// of small JSON documents.
const (
	maxAdvisoryBytes = 4 << 20
	maxAdvisories    = 1_000_000
)

// osvEcosystems maps the OSV ecosystem names of Stockpile's formats.
var osvEcosystems = map[string]string{
	"npm": "npm", "PyPI": "pypi", "Maven": "maven", "NuGet": "nuget", "RubyGems": "ruby", "crates.io": "cargo",
}

// Advisory is what a blocked version's refusal names.
type Advisory struct {
	ID      string
	Summary string
}

type osvDoc struct {
	ID        string `json:"id"`
	Summary   string `json:"summary"`
	Withdrawn string `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Versions []string `json:"versions"`
		Ranges   []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// entry is what the advisories say of one package.
type entry struct {
	all      *Advisory            // every version
	versions map[string]*Advisory // exact versions
}

// Advisories is a loaded data set, read-only once built: safe for
// concurrent use.
type Advisories struct {
	byPackage map[string]*entry
	// Count is the number of advisories loaded; Skipped the documents
	// that are not OSV advisories of Stockpile's formats, or withdrawn.
	Count, Skipped int
	// UnevaluatedRanges counts affected entries whose ranges were not
	// whole-package ones and listed no versions: nothing is blocked for
	// them (their ranges would need each ecosystem's version order).
	UnevaluatedRanges int
}

var pypiRun = regexp.MustCompile(`[-_.]+`)

// packageKey is a package's key in the set, in the form each ecosystem
// compares names: PEP 503 normalization for PyPI, case-insensitive for
// NuGet, case- and -/_-insensitive for crates.io.
func packageKey(format, namespace, name string) string {
	switch format {
	case "pypi":
		name = pypiRun.ReplaceAllString(strings.ToLower(name), "-")
	case "nuget":
		name = strings.ToLower(name)
	case "cargo":
		// Cargo treats - and _ alike, and case too (The Cargo Book,
		// "Registry index").
		name = strings.ReplaceAll(strings.ToLower(name), "-", "_")
	}
	return format + "\x00" + namespace + "\x00" + name
}

// osvPackage splits an OSV package name into Stockpile's namespace and
// name: npm's @scope/name, Maven's groupId:artifactId.
func osvPackage(format, osvName string) (namespace, name string) {
	switch format {
	case "npm":
		if rest, ok := strings.CutPrefix(osvName, "@"); ok {
			if ns, n, ok := strings.Cut(rest, "/"); ok {
				return ns, n
			}
		}
	case "maven":
		if g, a, ok := strings.Cut(osvName, ":"); ok {
			return g, a
		}
	}
	return "", osvName
}

// versionKey compares versions as the ecosystems do where it is a matter
// of spelling (NuGet and PyPI are case-insensitive).
func versionKey(format, version string) string {
	switch format {
	case "nuget", "pypi":
		return strings.ToLower(version)
	}
	return version
}

// Match returns the advisory that blocks a version, or nil.
func (a *Advisories) Match(format, namespace, name, version string) *Advisory {
	if a == nil {
		return nil
	}
	e := a.byPackage[packageKey(format, namespace, name)]
	if e == nil {
		return nil
	}
	if e.all != nil {
		return e.all
	}
	return e.versions[versionKey(format, version)]
}

// Any reports whether an advisory names the package at all (a cheap test
// before a version is looked at).
func (a *Advisories) Any(format, namespace, name string) bool {
	return a != nil && a.byPackage[packageKey(format, namespace, name)] != nil
}

// LoadOSV reads every *.json document of a directory tree, or of a .zip
// archive, at path.
func LoadOSV(path string) (*Advisories, error) {
	a := &Advisories{byPackage: map[string]*entry{}}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("osv: %w", err)
	}
	if !st.IsDir() && strings.HasSuffix(strings.ToLower(path), ".zip") {
		return a, a.loadZip(path)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("osv: %s is neither a directory nor a .zip archive", path)
	}
	return a, filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return a.add(f, p)
	})
}

func (a *Advisories) loadZip(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("osv: %w", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("osv: %s: %w", f.Name, err)
		}
		err = a.add(rc, f.Name)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// add reads one document. A document that is not an advisory is skipped,
// not an error: data sets carry other files.
func (a *Advisories) add(r io.Reader, name string) error {
	if a.Count+a.Skipped >= maxAdvisories {
		return fmt.Errorf("osv: more than %d documents", maxAdvisories)
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxAdvisoryBytes+1))
	if err != nil {
		return fmt.Errorf("osv: %s: %w", name, err)
	}
	var doc osvDoc
	if len(raw) > maxAdvisoryBytes || json.Unmarshal(raw, &doc) != nil || doc.ID == "" || doc.Withdrawn != "" {
		a.Skipped++
		return nil
	}
	adv := &Advisory{ID: doc.ID, Summary: doc.Summary}
	used := false
	for _, af := range doc.Affected {
		format, ok := osvEcosystems[af.Package.Ecosystem]
		if !ok || af.Package.Name == "" {
			continue
		}
		ns, n := osvPackage(format, af.Package.Name)
		key := packageKey(format, ns, n)
		e := a.byPackage[key]
		if e == nil {
			e = &entry{versions: map[string]*Advisory{}}
			a.byPackage[key] = e
		}
		used = true
		for _, v := range af.Versions {
			e.versions[versionKey(format, v)] = adv
		}
		whole := len(af.Versions) == 0 && len(af.Ranges) == 0
		for _, rg := range af.Ranges {
			if wholeRange(rg.Events) {
				whole = true
			} else if len(af.Versions) == 0 {
				a.UnevaluatedRanges++
			}
		}
		if whole {
			e.all = adv
		}
	}
	if used {
		a.Count++
	} else {
		a.Skipped++
	}
	return nil
}

// wholeRange reports whether range events cover every version: introduced
// at "0" and never fixed, limited or last affected.
func wholeRange(events []map[string]string) bool {
	zero := false
	for _, ev := range events {
		for k, v := range ev {
			switch k {
			case "introduced":
				zero = zero || v == "0"
			case "fixed", "last_affected", "limit":
				return false
			}
		}
	}
	return zero
}

// String describes the loaded set, for the log.
func (a *Advisories) String() string {
	return fmt.Sprintf("%d advisories on %d packages (%d documents skipped, %d ranges not evaluated)", a.Count, len(a.byPackage), a.Skipped, a.UnevaluatedRanges)
}
