package nuget

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
)

const mediaJSON = "application/json"

// hive is a registration hive: nuget.org keeps one that SemVer 1.0 clients
// read (no SemVer 2.0 version in it) and one with every version.
type hive struct {
	path    string
	semver2 bool
}

var (
	hiveSemVer1 = hive{path: "registration", semver2: false}
	hiveSemVer2 = hive{path: "registration-semver2", semver2: true}
)

// urls builds the client-facing URLs of one repository. Every resource
// sits below …/v3/, the service index's directory, where NuGet ≥ 6.7
// sends credentials pre-emptively.
type urls struct{ base string }

func (u urls) v3() string                  { return u.base + "/v3/" }
func (u urls) flat() string                { return u.v3() + "flatcontainer/" }
func (u urls) hive(h hive) string          { return u.v3() + h.path + "/" }
func (u urls) publish() string             { return u.v3() + "package" }
func (u urls) query() string               { return u.v3() + "query" }
func (u urls) autocomplete() string        { return u.v3() + "autocomplete" }
func (u urls) nupkg(id, key string) string { return flatNupkgURL(u.flat(), id, key) }
func (u urls) regIndex(h hive, id string) string {
	return u.hive(h) + id + "/index.json"
}
func (u urls) regPage(h hive, id, lower, upper string) string {
	return u.hive(h) + id + "/page/" + lower + "/" + upper + ".json"
}
func (u urls) regLeaf(h hive, id, key string) string { return u.hive(h) + id + "/" + key + ".json" }
func (u urls) catalog(id, key string) string         { return u.v3() + "catalog/" + id + "/" + key + ".json" }

// resource is one entry of the service index.
type resource struct {
	ID            string `json:"@id"`
	Type          string `json:"@type"`
	Comment       string `json:"comment,omitempty"`
	ClientVersion string `json:"clientVersion,omitempty"`
}

// renderServiceIndex lists the resources Stockpile serves itself, under
// every @type alias clients look for, and nothing else: a resource pointing
// elsewhere (RepositorySignatures, the catalog, vulnerability data) would
// send clients around Stockpile, and nuget.exe fails every install when a
// repository-signatures resource is advertised over plain http.
func renderServiceIndex(base string) ([]byte, error) {
	u := urls{base}
	var rs []resource
	add := func(id, comment string, types ...string) {
		for _, t := range types {
			r := resource{ID: id, Type: t, Comment: comment}
			if t == "RegistrationsBaseUrl/Versioned" {
				r.ClientVersion = "4.3.0-alpha"
			}
			rs = append(rs, r)
		}
	}
	add(u.flat(), "Version lists and package downloads (flat container).", "PackageBaseAddress/3.0.0")
	add(u.hive(hiveSemVer1), "Package metadata, SemVer 1.0 versions only.",
		"RegistrationsBaseUrl", "RegistrationsBaseUrl/3.0.0-rc", "RegistrationsBaseUrl/3.0.0-beta", "RegistrationsBaseUrl/3.4.0")
	add(u.hive(hiveSemVer2), "Package metadata, SemVer 2.0 versions included.",
		"RegistrationsBaseUrl/3.6.0", "RegistrationsBaseUrl/Versioned")
	add(u.query(), "Search over the packages this repository holds or has cached.",
		"SearchQueryService", "SearchQueryService/3.0.0-rc", "SearchQueryService/3.0.0-beta", "SearchQueryService/3.5.0")
	add(u.autocomplete(), "Package id and version completion.",
		"SearchAutocompleteService", "SearchAutocompleteService/3.0.0-rc", "SearchAutocompleteService/3.0.0-beta", "SearchAutocompleteService/3.5.0")
	add(u.publish(), "Push, delete (unlist) and relist.", "PackagePublish/2.0.0")
	return formats.MarshalJSON(map[string]any{
		"version":   "3.0.0",
		"resources": rs,
		"@context":  map[string]string{"@vocab": "http://schema.nuget.org/services#", "comment": "http://www.w3.org/2000/01/rdf-schema#comment"},
	})
}

// item is a version of a view that clients may download, with its catalog
// entry.
type item struct {
	key     string
	v       version
	vv      *formats.ViewVersion
	e       entry
	semver2 bool // only SemVer 2.0 clients see it
}

func (it *item) listed() bool { return it.vv.Status == formats.StatusPublished }

// items returns the downloadable versions of a view (published and
// unlisted; archived, disposed and unfinished ones are left out), sorted by
// NuGet precedence.
func items(v *formats.View) []*item {
	out := make([]*item, 0, len(v.Versions))
	for key, vv := range v.Versions {
		if !vv.Status.Downloadable() {
			continue
		}
		kv, err := parseVersion(key)
		if err != nil || kv.Key() != key {
			continue // not a key this format wrote
		}
		e := entryOf(vv.Meta, v.Package.Name, key)
		full, err := parseVersion(e.str("version"))
		if err != nil || full.Key() != key {
			full = kv
		}
		it := &item{key: key, v: full, vv: vv, e: e, semver2: full.SemVer2()}
		for _, g := range e.depGroups() {
			for _, d := range g.Dependencies {
				it.semver2 = it.semver2 || rangeSemVer2(d.Range)
			}
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].v.compare(out[j].v); c != 0 {
			return c < 0
		}
		return out[i].key < out[j].key
	})
	return out
}

// inHive keeps the items a hive shows.
func inHive(its []*item, h hive) []*item {
	if h.semver2 {
		return its
	}
	out := make([]*item, 0, len(its))
	for _, it := range its {
		if !it.semver2 {
			out = append(out, it)
		}
	}
	return out
}

// rangeSemVer2 reports whether a version range names a SemVer 2.0 version,
// which hides the dependent version from SemVer 1.0 clients.
func rangeSemVer2(r string) bool {
	r = strings.Trim(strings.TrimSpace(r), "[]()")
	for _, b := range strings.Split(r, ",") {
		if v, err := parseVersion(b); err == nil && v.SemVer2() {
			return true
		}
	}
	return false
}

// displayID is the package's id in its original case, as the newest
// version spells it.
func displayID(its []*item, lowerID string) string {
	for i := len(its) - 1; i >= 0; i-- {
		if id := its[i].e.str("id"); strings.EqualFold(id, lowerID) {
			return id
		}
	}
	return lowerID
}

// notFound is the error for a package with nothing to show.
func notFound(what, id string) error {
	return fmt.Errorf("%w: nuget: %s %s", formats.ErrNotFound, what, id)
}

// renderFlatIndex renders {flat}/{id}/index.json: every downloadable
// version, listed or not, ascending, lower-cased, without build metadata.
func renderFlatIndex(v *formats.View) (*formats.Rendered, error) {
	its := items(v)
	if len(its) == 0 {
		return nil, notFound("no versions of", v.Package.Name)
	}
	keys := make([]string, len(its))
	for i, it := range its {
		keys[i] = it.key
	}
	return jsonDoc(map[string][]string{"versions": keys})
}

// renderEntry renders the catalog entry of an item for one repository.
func (u urls) renderEntry(h hive, lowerID string, it *item) entry {
	e := maps.Clone(it.e)
	e.set("@id", u.catalog(lowerID, it.key))
	e.set("@type", "PackageDetails")
	e.set("listed", it.listed())
	e.set("published", publishedString(it))
	e.set("packageContent", u.nupkg(lowerID, it.key))
	if gs := it.e.depGroups(); len(gs) > 0 {
		for i := range gs {
			for j := range gs[i].Dependencies {
				d := &gs[i].Dependencies[j]
				d.Registration = u.regIndex(h, strings.ToLower(d.ID))
			}
		}
		e.set("dependencyGroups", gs)
	}
	return e
}

// publishedString is the published date clients see; unlisted versions
// carry nuget.org's 1900-01-01, which older clients read as "unlisted".
func publishedString(it *item) string {
	if !it.listed() {
		return "1900-01-01T00:00:00+00:00"
	}
	if it.vv.Published.IsZero() {
		return time.Unix(0, 0).UTC().Format(time.RFC3339)
	}
	return it.vv.Published.UTC().Format(time.RFC3339Nano)
}

type regLeafOut struct {
	ID             string `json:"@id"`
	Type           string `json:"@type"`
	CatalogEntry   entry  `json:"catalogEntry"`
	PackageContent string `json:"packageContent"`
	Registration   string `json:"registration"`
}

type regPageOut struct {
	ID     string       `json:"@id"`
	Type   string       `json:"@type"`
	Count  int          `json:"count"`
	Items  []regLeafOut `json:"items,omitempty"`
	Parent string       `json:"parent,omitempty"`
	Lower  string       `json:"lower"`
	Upper  string       `json:"upper"`
}

// page renders one registration page; with leaves, its items and parent.
func (u urls) page(h hive, lowerID string, its []*item, leaves bool) regPageOut {
	lower, upper := its[0].key, its[len(its)-1].key
	p := regPageOut{
		ID: u.regPage(h, lowerID, lower, upper), Type: "catalog:CatalogPage",
		Count: len(its), Lower: lower, Upper: upper,
	}
	if leaves {
		p.Parent = u.regIndex(h, lowerID)
		p.Items = make([]regLeafOut, len(its))
		for i, it := range its {
			p.Items[i] = regLeafOut{
				ID: u.regLeaf(h, lowerID, it.key), Type: "Package",
				CatalogEntry:   u.renderEntry(h, lowerID, it),
				PackageContent: u.nupkg(lowerID, it.key),
				Registration:   u.regIndex(h, lowerID),
			}
		}
	}
	return p
}

// renderRegIndex renders {hive}/{id}/index.json: the versions in pages of
// pageSize, inlined when there are at most inlineLimit of them, as
// nuget.org does; otherwise every page is fetched at its @id.
func (f *Format) renderRegIndex(base string, h hive, v *formats.View) (*formats.Rendered, error) {
	its := inHive(items(v), h)
	if len(its) == 0 {
		return nil, notFound("no versions of", v.Package.Name)
	}
	u := urls{base}
	inline := len(its) <= f.opts.InlineLimit
	var pages []regPageOut
	for start := 0; start < len(its); start += f.opts.PageSize {
		end := min(start+f.opts.PageSize, len(its))
		pages = append(pages, u.page(h, v.Package.Name, its[start:end], inline))
	}
	return jsonDoc(map[string]any{
		"@id":   u.regIndex(h, v.Package.Name),
		"@type": []string{"catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"},
		"count": len(pages),
		"items": pages,
	})
}

// renderRegPage renders a page: the versions between lower and upper,
// whatever the paging when the index was read, so a page URL stays valid
// while versions come and go.
func (f *Format) renderRegPage(base string, h hive, lower, upper version, v *formats.View) (*formats.Rendered, error) {
	var in []*item
	for _, it := range inHive(items(v), h) {
		if it.v.compare(lower) >= 0 && it.v.compare(upper) <= 0 {
			in = append(in, it)
		}
	}
	if len(in) == 0 {
		return nil, notFound("no registration page", lower.Key()+"/"+upper.Key()+" of "+v.Package.Name)
	}
	return jsonDoc(urls{base}.page(h, v.Package.Name, in, true))
}

// findItem returns the item of a version key.
func findItem(v *formats.View, h hive, key string) *item {
	for _, it := range inHive(items(v), h) {
		if it.key == key {
			return it
		}
	}
	return nil
}

// renderRegLeaf renders {hive}/{id}/{version}.json.
func renderRegLeaf(base string, h hive, key string, v *formats.View) (*formats.Rendered, error) {
	it := findItem(v, h, key)
	if it == nil {
		return nil, notFound("no version "+key+" of", v.Package.Name)
	}
	u := urls{base}
	return jsonDoc(map[string]any{
		"@id":            u.regLeaf(h, v.Package.Name, key),
		"@type":          []string{"Package", "http://schema.nuget.org/catalog#Permalink"},
		"catalogEntry":   u.catalog(v.Package.Name, key),
		"listed":         it.listed(),
		"published":      publishedString(it),
		"packageContent": u.nupkg(v.Package.Name, key),
		"registration":   u.regIndex(h, v.Package.Name),
	})
}

// renderCatalogEntry renders …/v3/catalog/{id}/{version}.json, the
// document a registration's catalogEntry @id names.
func renderCatalogEntry(base, key string, v *formats.View) (*formats.Rendered, error) {
	it := findItem(v, hiveSemVer2, key)
	if it == nil {
		return nil, notFound("no version "+key+" of", v.Package.Name)
	}
	return jsonDoc(urls{base}.renderEntry(hiveSemVer2, v.Package.Name, it))
}

func jsonDoc(v any) (*formats.Rendered, error) {
	b, err := formats.MarshalJSON(v)
	if err != nil {
		return nil, err
	}
	return &formats.Rendered{Body: b, ContentType: mediaJSON}, nil
}
