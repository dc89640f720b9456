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
	"sort"
	"strings"
)

// Known-malicious versions come from advisories in the OSV format
// (https://ossf.github.io/osv-schema/), as the OpenSSF malicious-packages
// data set publishes them: one JSON document per advisory, each naming
// affected packages by ecosystem and name, with the affected versions
// listed (affected[].versions), or as SEMVER or ECOSYSTEM ranges of
// introduced/fixed/last_affected events evaluated in the format's own
// version order; a package that is malicious throughout has a range
// introduced at "0" and never fixed.

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
	ranges   []osvRange           // evaluated in the format's version order
}

// osvRange is one SEMVER or ECOSYSTEM range of an affected package, its
// events sorted by version ("0" first).
type osvRange struct {
	adv    *Advisory
	events []event
}

// event is one range event: introduced, fixed, last_affected or limit.
type event struct{ kind, version string }

// Orders are the version orders of Stockpile's formats, by format name
// (npm, pypi, maven, nuget, ruby, cargo), that ranges are evaluated in.
type Orders map[string]func(a, b string) int

// Advisories is a loaded data set, read-only once built: safe for
// concurrent use.
type Advisories struct {
	byPackage map[string]*entry
	orders    Orders
	// Count is the number of advisories loaded; Skipped the documents
	// that are not OSV advisories of Stockpile's formats, or withdrawn.
	Count, Skipped int
	// UnevaluatedRanges counts ranges nothing is blocked by: GIT ranges
	// (commits, not versions) of an entry that lists no versions, and
	// ranges of a format with no version order.
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
	if adv := e.versions[versionKey(format, version)]; adv != nil {
		return adv
	}
	if cmp := a.orders[format]; cmp != nil {
		for _, r := range e.ranges {
			if affected(cmp, r.events, version) {
				return r.adv
			}
		}
	}
	return nil
}

// affected evaluates a range's sorted events for a version as the OSV
// schema's "Evaluation" section does: introduced opens the range (at "0",
// from the first version), fixed closes it at that version, last_affected
// right after it; a limit bounds the range from above.
func affected(cmp func(a, b string) int, events []event, version string) bool {
	in := false
	for _, ev := range events {
		switch ev.kind {
		case "introduced":
			if ev.version == "0" || cmp(version, ev.version) >= 0 {
				in = true
			}
		case "fixed":
			if cmp(version, ev.version) >= 0 {
				in = false
			}
		case "last_affected":
			if cmp(version, ev.version) > 0 {
				in = false
			}
		}
	}
	for _, ev := range events {
		if ev.kind == "limit" && ev.version != "*" && cmp(version, ev.version) >= 0 {
			return false
		}
	}
	return in
}

// sortedEvents flattens a range's events and sorts them by version in
// cmp's order, "0" first; an event of an unknown kind, or with no version,
// is dropped.
func sortedEvents(cmp func(a, b string) int, raw []map[string]string) []event {
	var out []event
	for _, m := range raw {
		for k, v := range m {
			switch k {
			case "introduced", "fixed", "last_affected", "limit":
				if v != "" {
					out = append(out, event{k, v})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].version, out[j].version
		switch {
		case a == "0" && out[i].kind == "introduced":
			return b != "0"
		case b == "0" && out[j].kind == "introduced":
			return false
		}
		return cmp(a, b) < 0
	})
	return out
}

// Any reports whether an advisory names the package at all (a cheap test
// before a version is looked at).
func (a *Advisories) Any(format, namespace, name string) bool {
	return a != nil && a.byPackage[packageKey(format, namespace, name)] != nil
}

// LoadOSV reads every *.json document of a directory tree, or of a .zip
// archive, at path; orders are the formats' version orders ranges are
// evaluated in (a format without one has its ranges counted, not used).
func LoadOSV(path string, orders Orders) (*Advisories, error) {
	a := &Advisories{byPackage: map[string]*entry{}, orders: orders}
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
			cmp := a.orders[format]
			switch {
			case wholeRange(rg.Events):
				whole = true
			case (rg.Type == "SEMVER" || rg.Type == "ECOSYSTEM") && cmp != nil:
				if evs := sortedEvents(cmp, rg.Events); len(evs) > 0 {
					e.ranges = append(e.ranges, osvRange{adv: adv, events: evs})
				}
			case len(af.Versions) == 0:
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
