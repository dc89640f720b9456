package cargo

import (
	"context"
	"fmt"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Crate names compare the way crates.io compares them: ignoring ASCII case
// and treating '-' and '_' as the same character. The canonical form kept in
// formats.Package.Name (and shown by the control plane) is crates.io's own
// canonical form, lower-case with every '-' turned into '_': "Long-Crate_name"
// is stored as "long_crate_name". Index lines keep the spelling the crate was
// published with, and index files are served at the lower-cased published
// spelling only, as on crates.io.

// maxPublishName is crates.io's limit for the name of a new crate.
const maxPublishName = 64

// maxLookupName bounds names that are only looked up (index files,
// downloads): other registries may have allowed longer names.
const maxLookupName = 255

// canonical returns the canonical form of a crate name.
func canonical(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "-", "_")
}

// Normalize implements formats.Normalizer.
func (f *Format) Normalize(p formats.Package) formats.Package {
	p.Name = canonical(p.Name)
	return p
}

// pkg returns the package a crate name addresses.
func pkg(name string) formats.Package {
	return formats.Package{Format: "cargo", Name: canonical(name)}
}

// validLookupName reports whether name can be the name of a crate in some
// registry: ASCII letters, digits, '-' and '_'.
func validLookupName(name string) bool {
	if name == "" || len(name) > maxLookupName {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return false
		}
	}
	return true
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// reservedNames are names crates.io refuses because they are special files
// on Windows or special crates of the toolchain.
var reservedNames = map[string]bool{
	"con": true, "prn": true, "aux": true, "nul": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true, "com6": true, "com7": true, "com8": true, "com9": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true, "lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true,
	"std": true, "core": true, "alloc": true, "proc_macro": true, "test": true,
}

// checkPublishName applies crates.io's rules for the name of a new crate.
func checkPublishName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: cargo: the crate name is empty", formats.ErrInvalid)
	case len(name) > maxPublishName:
		return fmt.Errorf("%w: cargo: the crate name %q is longer than %d characters", formats.ErrInvalid, name, maxPublishName)
	case !(name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z'):
		return fmt.Errorf("%w: cargo: the crate name %q must start with an ASCII letter", formats.ErrInvalid, name)
	case !validLookupName(name):
		return fmt.Errorf("%w: cargo: the crate name %q may only contain ASCII letters, digits, '-' and '_'", formats.ErrInvalid, name)
	case reservedNames[canonical(name)]:
		return fmt.Errorf("%w: cargo: the crate name %q is reserved", formats.ErrInvalid, name)
	}
	return nil
}

// indexDir returns the directories of the index file of a crate name, in
// the case of name: "1", "2", "3/s", "se/rd". This is also cargo's {prefix}.
func indexDir(name string) string {
	switch len(name) {
	case 0:
		return ""
	case 1:
		return "1"
	case 2:
		return "2"
	case 3:
		return "3/" + name[:1]
	default:
		return name[:2] + "/" + name[2:4]
	}
}

// indexPath returns the path of the index file of name, relative to the
// index root: "se/rd/serde".
func indexPath(name string) string {
	lower := strings.ToLower(name)
	return indexDir(lower) + "/" + lower
}

// parseIndexPath returns the crate name an index path (split in segments)
// addresses, lower-cased, and whether the path is a valid index path whose
// directories match the name.
func parseIndexPath(segs []string) (string, bool) {
	if len(segs) < 2 || len(segs) > 3 {
		return "", false
	}
	name := strings.ToLower(segs[len(segs)-1])
	if !validLookupName(name) {
		return "", false
	}
	dirs := strings.ToLower(strings.Join(segs[:len(segs)-1], "/"))
	return name, dirs == indexDir(name)
}

// spellingKey carries the spelling a client used for a crate (lower-cased)
// to FetchMetadata, which asks the upstream for that spelling first.
type spellingKey struct{}

func withSpelling(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, spellingKey{}, strings.ToLower(name))
}

// spellings returns the spellings under which an upstream index may hold
// the crate whose canonical name is name: the one the client used, then all
// '_', then all '-'.
func spellings(ctx context.Context, name string) []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if hint, _ := ctx.Value(spellingKey{}).(string); hint != "" && canonical(hint) == name {
		add(hint)
	}
	add(name)
	add(strings.ReplaceAll(name, "_", "-"))
	return out
}

// Markers of a dl template (cargo's registry documentation).
const (
	markerCrate       = "{crate}"
	markerVersion     = "{version}"
	markerPrefix      = "{prefix}"
	markerLowerPrefix = "{lowerprefix}"
	markerChecksum    = "{sha256-checksum}"
)

// downloadURL expands a dl template for one version, as cargo does: without
// any marker, /{crate}/{version}/download is appended.
func downloadURL(dl, name, version, cksum string) string {
	if !strings.Contains(dl, markerCrate) && !strings.Contains(dl, markerVersion) &&
		!strings.Contains(dl, markerPrefix) && !strings.Contains(dl, markerLowerPrefix) &&
		!strings.Contains(dl, markerChecksum) {
		return strings.TrimSuffix(dl, "/") + "/" + name + "/" + version + "/download"
	}
	prefix := indexDir(name)
	return strings.NewReplacer(
		markerCrate, name,
		markerVersion, version,
		markerPrefix, prefix,
		markerLowerPrefix, strings.ToLower(prefix),
		markerChecksum, cksum,
	).Replace(dl)
}

// crateFile is the asset name of a version: {name}-{version}.crate.
func crateFile(name, version string) string { return name + "-" + version + ".crate" }

// CheckName implements formats.NameChecker: a crate name some registry may
// hold (validLookupName), and no namespace.
func (f *Format) CheckName(p formats.Package) error {
	if p.Namespace != "" {
		return fmt.Errorf("%w: cargo: crates have no namespace", formats.ErrInvalid)
	}
	if !validLookupName(p.Name) {
		return fmt.Errorf("%w: cargo: a crate name is 1 to %d ASCII letters, digits, '-' and '_'", formats.ErrInvalid, maxLookupName)
	}
	return nil
}
