package nuget

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Bounds on what is read from an upstream feed (the engine bounds each
// document's size).
const (
	maxPages     = 10_000
	maxVersions  = 100_000
	maxResources = 1_000
)

// registrationTypes are the registration hives of a service index, the
// preferred first: the SemVer 2.0 hive sees every version.
var registrationTypes = []string{
	"RegistrationsBaseUrl/3.6.0", "RegistrationsBaseUrl/Versioned", "RegistrationsBaseUrl/3.4.0",
	"RegistrationsBaseUrl/3.0.0-rc", "RegistrationsBaseUrl/3.0.0-beta", "RegistrationsBaseUrl",
}

// feed is what Stockpile uses of an upstream's service index: the base
// URLs (with a trailing slash) of its registration hive and flat container.
type feed struct {
	registrations string
	flat          string
}

// unavailable marks a fault of the upstream feed. The cause is kept as
// text, so that a 404 of a page or of the service index is never taken
// for "no such package".
func unavailable(format string, args ...any) error {
	return fmt.Errorf("nuget: %s: %w", fmt.Sprintf(format, args...), upstream.ErrUnavailable)
}

// getJSON reads the JSON document at url (a reference resolved against the
// connection URL) into v. A document that is not what v reads makes the
// feed unavailable; what names the document in that error.
func getJSON(ctx context.Context, g formats.Getter, url, what string, v any) (*formats.Document, error) {
	doc, err := g.Get(ctx, url, "application/json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc.Body, v); err != nil {
		return nil, unavailable("%s %s: %v", what, doc.URL, err)
	}
	return doc, nil
}

// readFeed reads the service index at the connection URL.
func readFeed(ctx context.Context, g formats.Getter) (*feed, error) {
	var idx struct {
		Resources []struct {
			ID   string `json:"@id"`
			Type string `json:"@type"`
		} `json:"resources"`
	}
	doc, err := getJSON(ctx, g, "", "service index", &idx)
	if errors.Is(err, formats.ErrNotFound) {
		return nil, unavailable("the connection URL is not a service index (%v)", err)
	}
	if err != nil {
		return nil, err
	}
	if len(idx.Resources) > maxResources {
		return nil, unavailable("service index %s lists more than %d resources", doc.URL, maxResources)
	}
	byType := map[string]string{}
	for _, r := range idx.Resources {
		if _, ok := byType[r.Type]; !ok && r.ID != "" {
			byType[r.Type] = r.ID
		}
	}
	f := &feed{flat: dir(byType["PackageBaseAddress/3.0.0"])}
	for _, t := range registrationTypes {
		if id := byType[t]; id != "" {
			f.registrations = dir(id)
			break
		}
	}
	if f.registrations == "" && f.flat == "" {
		return nil, unavailable("service index %s names neither a registration hive nor a flat container", doc.URL)
	}
	return f, nil
}

// dir gives a base URL its trailing slash.
func dir(u string) string {
	if u != "" && !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// FetchMetadata implements formats.Format: it reads the upstream's service
// index, then the registration index of p in the upstream's preferred hive
// and every page it does not inline (at the URLs given, verbatim), and
// returns each version with its catalog entry and its .nupkg (the
// registration's packageContent, with the declared packageHash when there
// is one). A feed without registrations is read through its flat
// container. The error wraps formats.ErrNotFound only when the feed says
// the package does not exist.
func (f *Format) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	fd, err := readFeed(ctx, g)
	if err != nil {
		return nil, err
	}
	lowerID := strings.ToLower(p.Name)
	if validID(lowerID) != nil {
		return nil, fmt.Errorf("nuget: %q is not a package id: %w", formats.Clip(p.Name), formats.ErrNotFound)
	}
	if fd.registrations == "" {
		return f.fetchFlat(ctx, g, fd, lowerID)
	}
	return f.fetchRegistration(ctx, g, fd, lowerID)
}

// regPage is a registration page, inlined in the index or on its own.
type regPage struct {
	ID    string          `json:"@id"`
	Items json.RawMessage `json:"items"`
}

type regLeaf struct {
	CatalogEntry   json.RawMessage `json:"catalogEntry"`
	PackageContent string          `json:"packageContent"`
}

func (f *Format) fetchRegistration(ctx context.Context, g formats.Getter, fd *feed, lowerID string) (*formats.Metadata, error) {
	var idx struct {
		Items []regPage `json:"items"`
	}
	doc, err := getJSON(ctx, g, fd.registrations+lowerID+"/index.json", "registration index", &idx)
	if err != nil {
		return nil, err // formats.ErrNotFound: the feed does not know the package
	}
	if len(idx.Items) > maxPages {
		return nil, unavailable("registration index %s has more than %d pages", doc.URL, maxPages)
	}
	leaves := make([][]regLeaf, len(idx.Items))
	var separate []int
	for i, pg := range idx.Items {
		if len(pg.Items) > 0 && string(pg.Items) != "null" {
			if err := json.Unmarshal(pg.Items, &leaves[i]); err != nil {
				return nil, unavailable("registration index %s: page %d: %v", doc.URL, i, err)
			}
			continue
		}
		if pg.ID == "" {
			return nil, unavailable("registration index %s: page %d has neither items nor @id", doc.URL, i)
		}
		separate = append(separate, i)
	}
	// Pages are read one after the other: the engine's Getter records its
	// cache outcome in the request's trace, which is not safe for
	// concurrent use.
	for _, i := range separate {
		pageURL := idx.Items[i].ID
		// The page URL is used exactly as the upstream wrote it.
		var page regPage
		pdoc, err := getJSON(ctx, g, pageURL, "registration page", &page)
		if err != nil {
			if errors.Is(err, formats.ErrNotFound) {
				return nil, unavailable("registration page %s is missing (%v)", pageURL, err)
			}
			return nil, err
		}
		if err := json.Unmarshal(page.Items, &leaves[i]); err != nil {
			return nil, unavailable("registration page %s: items: %v", pdoc.URL, err)
		}
	}
	md := &formats.Metadata{Versions: map[string]*formats.Version{}}
	for _, page := range leaves {
		for _, leaf := range page {
			if len(md.Versions) >= maxVersions {
				return nil, unavailable("registration of %s has more than %d versions", lowerID, maxVersions)
			}
			ue, err := readUpstreamEntry(leaf.CatalogEntry, lowerID, leaf.PackageContent, fd.flat)
			if err != nil {
				continue // one broken leaf does not hide the others
			}
			key := ue.version.Key()
			if _, dup := md.Versions[key]; dup {
				continue
			}
			a := formats.AssetRef{Name: nupkgName(lowerID, key), URL: ue.packageContent, Size: max(ue.size, 0)}
			if a.URL == "" && fd.flat != "" {
				a.URL = flatNupkgURL(fd.flat, lowerID, key)
			}
			a.Digests = declaredHash(ue.hashB64, ue.hashAlg)
			st := formats.StatusPublished
			if !ue.listed {
				st = formats.StatusUnlisted
			}
			md.Versions[key] = &formats.Version{
				Version: key, Status: st, Meta: marshalEntry(ue.entry),
				Assets: []formats.AssetRef{a}, Published: ue.published,
			}
		}
	}
	return md, nil
}

// fetchFlat reads a feed that has only a flat container: versions, and
// .nupkg URLs by convention; no catalog entries.
func (f *Format) fetchFlat(ctx context.Context, g formats.Getter, fd *feed, lowerID string) (*formats.Metadata, error) {
	var list struct {
		Versions []string `json:"versions"`
	}
	doc, err := getJSON(ctx, g, fd.flat+lowerID+"/index.json", "version list", &list)
	if err != nil {
		return nil, err
	}
	if len(list.Versions) > maxVersions {
		return nil, unavailable("version list %s has more than %d versions", doc.URL, maxVersions)
	}
	md := &formats.Metadata{Versions: map[string]*formats.Version{}}
	for _, s := range list.Versions {
		v, err := parseVersion(s)
		if err != nil {
			continue
		}
		key := v.Key()
		e := entry{}
		e.set("id", lowerID)
		e.set("version", v.Full())
		md.Versions[key] = &formats.Version{
			Version: key, Status: formats.StatusPublished, Meta: marshalEntry(e),
			Assets: []formats.AssetRef{{Name: nupkgName(lowerID, key), URL: flatNupkgURL(fd.flat, lowerID, key)}},
		}
	}
	if len(md.Versions) == 0 {
		return nil, fmt.Errorf("nuget: %s lists no versions: %w", doc.URL, formats.ErrNotFound)
	}
	return md, nil
}

// declaredHash reads a registration's packageHash (base64) into hex digests.
func declaredHash(b64, alg string) formats.Digests {
	var d formats.Digests
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(sum) == 0 {
		return d
	}
	switch {
	case (alg == "" || strings.EqualFold(alg, "SHA512")) && len(sum) == 64:
		d.SHA512 = hex.EncodeToString(sum)
	case strings.EqualFold(alg, "SHA256") && len(sum) == 32:
		d.SHA256 = hex.EncodeToString(sum)
	}
	return d
}

// nupkgName is the asset name of a version's package.
func nupkgName(lowerID, key string) string { return lowerID + "." + key + ".nupkg" }

// flatNupkgURL is where a flat container serves a .nupkg.
func flatNupkgURL(flat, lowerID, key string) string {
	return flat + lowerID + "/" + key + "/" + nupkgName(lowerID, key)
}
