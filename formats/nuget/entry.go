package nuget

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
)

// entry is a catalog entry as Stockpile keeps it in Version.Meta: a JSON
// object with at least "id" (original case) and "version" (normalised, with
// build metadata), plus whatever the upstream's registration or the pushed
// nuspec says of the version (authors, description, dependencyGroups,
// deprecation, vulnerabilities, ...). URLs that clients follow and the
// listing state are not kept: they are rendered for each repository.
type entry map[string]json.RawMessage

// Bounds on what is kept of an upstream catalog entry.
const (
	maxEntryField = 64 << 10 // a larger field is dropped
	maxDepGroups  = 1_000
	maxDeps       = 10_000
)

// fieldsNotKept are catalog entry members rendered per repository or
// meaningless once the entry leaves its upstream.
var fieldsNotKept = []string{
	"@id", "@type", "@context", "packageContent", "listed", "published",
	"catalog:commitId", "catalog:commitTimeStamp", "commitId", "commitTimeStamp",
	"registration", "dependencyGroups",
}

func (e entry) str(k string) string {
	var s string
	if raw, ok := e[k]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

func (e entry) set(k string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		e[k] = b
	}
}

// strings returns a member that is a string or an array of strings.
func (e entry) strings(k string) []string {
	raw, ok := e[k]
	if !ok {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return []string{s}
	}
	return nil
}

// depGroups reads the dependency groups kept in the entry.
func (e entry) depGroups() []depGroup {
	var gs []depGroup
	if raw, ok := e["dependencyGroups"]; ok {
		_ = json.Unmarshal(raw, &gs)
	}
	return gs
}

// depGroup is a dependency group of a catalog entry.
type depGroup struct {
	TargetFramework string       `json:"targetFramework,omitempty"`
	Dependencies    []dependency `json:"dependencies,omitempty"`
}

// dependency is one dependency; Registration is filled when rendering.
type dependency struct {
	ID           string `json:"id"`
	Range        string `json:"range,omitempty"`
	Registration string `json:"registration,omitempty"`
}

// upstreamEntry is what a registration leaf tells of a version besides the
// kept entry.
type upstreamEntry struct {
	entry          entry
	version        version
	listed         bool
	published      time.Time
	packageContent string
	hashB64        string
	hashAlg        string
	size           int64
}

// readUpstreamEntry reads the catalog entry of a registration leaf of the
// package called lowerID. leafContent is the leaf's packageContent;
// flatBase, the upstream's PackageBaseAddress, serves to recognise
// upstream-hosted icons, which are dropped (Stockpile does not serve them).
func readUpstreamEntry(raw json.RawMessage, lowerID, leafContent, flatBase string) (*upstreamEntry, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil || e == nil {
		return nil, fmt.Errorf("the catalog entry is not an object")
	}
	id := e.str("id")
	if !strings.EqualFold(id, lowerID) {
		return nil, fmt.Errorf("the catalog entry is for %q", formats.Clip(id))
	}
	v, err := parseVersion(e.str("version"))
	if err != nil {
		return nil, err
	}
	ue := &upstreamEntry{version: v, listed: true, packageContent: leafContent}
	if pc := e.str("packageContent"); pc != "" && ue.packageContent == "" {
		ue.packageContent = pc
	}
	if t, err := time.Parse(time.RFC3339Nano, e.str("published")); err == nil {
		if t.Year() <= 1900 {
			ue.listed = false // nuget.org's mark of an unlisted version
		} else {
			ue.published = t.UTC()
		}
	}
	if raw, ok := e["listed"]; ok {
		var l bool
		if json.Unmarshal(raw, &l) == nil {
			ue.listed = l
		}
	}
	ue.hashB64, ue.hashAlg = e.str("packageHash"), e.str("packageHashAlgorithm")
	if raw, ok := e["packageSize"]; ok {
		_ = json.Unmarshal(raw, &ue.size)
	}
	groups := cleanDepGroups(e["dependencyGroups"])
	for _, k := range fieldsNotKept {
		delete(e, k)
	}
	for k, val := range e {
		if len(val) > maxEntryField {
			delete(e, k)
		}
	}
	if flatBase != "" && strings.HasPrefix(e.str("iconUrl"), flatBase) {
		delete(e, "iconUrl")
	}
	e.set("id", id)
	e.set("version", v.Full())
	if len(groups) > 0 {
		e.set("dependencyGroups", groups)
	}
	ue.entry = e
	return ue, nil
}

// cleanDepGroups keeps the target framework, id and range of dependency
// groups, dropping the upstream's @id, @type and registration URLs.
func cleanDepGroups(raw json.RawMessage) []depGroup {
	if raw == nil {
		return nil
	}
	var in []struct {
		TargetFramework string `json:"targetFramework"`
		Dependencies    []struct {
			ID    string `json:"id"`
			Range string `json:"range"`
		} `json:"dependencies"`
	}
	if json.Unmarshal(raw, &in) != nil || len(in) > maxDepGroups {
		return nil
	}
	out := make([]depGroup, 0, len(in))
	n := 0
	for _, g := range in {
		dg := depGroup{TargetFramework: g.TargetFramework}
		for _, d := range g.Dependencies {
			if validID(d.ID) != nil || n >= maxDeps {
				continue
			}
			n++
			dg.Dependencies = append(dg.Dependencies, dependency{ID: d.ID, Range: d.Range})
		}
		out = append(out, dg)
	}
	return out
}

// entryOf reads the entry kept in a version's Meta; a version without one
// (copied from elsewhere) gets id and version from its key.
func entryOf(meta json.RawMessage, lowerID, key string) entry {
	var e entry
	if len(meta) > 0 {
		_ = json.Unmarshal(meta, &e)
	}
	if e == nil {
		e = entry{}
	}
	if e.str("id") == "" {
		e.set("id", lowerID)
	}
	if e.str("version") == "" {
		e.set("version", key)
	}
	return e
}

// marshalEntry encodes an entry for Version.Meta.
func marshalEntry(e entry) json.RawMessage {
	b, _ := formats.MarshalJSON(e) // an entry that cannot be encoded gives no Meta
	return b
}
