package nuget

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Bounds on names and versions.
const (
	maxIDLen      = 100 // nuget.org's limit
	maxVersionLen = 64  // nuget.org's limit for the full string
)

// version is a parsed NuGet version: one to four numeric parts (the missing
// ones are zero), an optional pre-release label and optional SemVer 2.0 build
// metadata. NuGet accepts leading zeros and a fourth part; it compares and
// addresses versions by their normalised form.
type version struct {
	nums     [4]int
	release  []string // dot-separated pre-release identifiers, as written
	metadata string   // build metadata, without '+'
}

// parseVersion parses a NuGet version string. It accepts what NuGet's
// NuGetVersion.TryParse accepts for package versions: 1 to 4 numeric parts
// with optional leading zeros, a pre-release label of [0-9A-Za-z-]
// identifiers separated by dots, and build metadata.
func parseVersion(s string) (version, error) {
	var v version
	s = strings.TrimSpace(s)
	if s == "" {
		return v, fmt.Errorf("the version is empty")
	}
	if len(s) > maxVersionLen {
		return v, fmt.Errorf("the version is longer than %d characters", maxVersionLen)
	}
	core := s
	if i := strings.IndexByte(core, '+'); i >= 0 {
		core, v.metadata = core[:i], core[i+1:]
		if !validIdentifiers(v.metadata) {
			return v, fmt.Errorf("version %q: bad build metadata", s)
		}
	}
	if i := strings.IndexByte(core, '-'); i >= 0 {
		var rel string
		core, rel = core[:i], core[i+1:]
		if !validIdentifiers(rel) {
			return v, fmt.Errorf("version %q: bad pre-release label", s)
		}
		v.release = strings.Split(rel, ".")
	}
	parts := strings.Split(core, ".")
	if len(parts) > 4 {
		return v, fmt.Errorf("version %q has more than four numbers", s)
	}
	for i, p := range parts {
		if p == "" || !isDigits(p) {
			return v, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return v, fmt.Errorf("version %q: %q is too large", s, p)
		}
		v.nums[i] = int(n)
	}
	return v, nil
}

// validIdentifiers reports whether s is a non-empty dot-separated list of
// non-empty [0-9A-Za-z-] identifiers.
func validIdentifiers(s string) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String is the normalised version without build metadata, in its original
// case: leading zeros dropped, a zero fourth part dropped.
func (v version) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%d.%d", v.nums[0], v.nums[1], v.nums[2])
	if v.nums[3] != 0 {
		fmt.Fprintf(&b, ".%d", v.nums[3])
	}
	if len(v.release) > 0 {
		b.WriteByte('-')
		b.WriteString(strings.Join(v.release, "."))
	}
	return b.String()
}

// Full is the normalised version with its build metadata, as the catalog
// entry shows it.
func (v version) Full() string {
	if v.metadata == "" {
		return v.String()
	}
	return v.String() + "+" + v.metadata
}

// Key is the version as the flat container addresses it and as Stockpile
// stores it: normalised, lower-cased, without build metadata.
func (v version) Key() string { return strings.ToLower(v.String()) }

// Prerelease reports whether v has a pre-release label.
func (v version) Prerelease() bool { return len(v.release) > 0 }

// SemVer2 reports whether only SemVer 2.0-aware clients may see v: a dotted
// pre-release label or build metadata.
func (v version) SemVer2() bool { return len(v.release) > 1 || v.metadata != "" }

// compare orders versions as NuGet does: numbers, then a version without
// pre-release label above one with, then labels identifier by identifier
// (numeric ones numerically and below alphanumeric ones, others compared
// case-insensitively; a shorter list first). Build metadata is ignored.
func (v version) compare(o version) int {
	for i := range v.nums {
		if v.nums[i] != o.nums[i] {
			if v.nums[i] < o.nums[i] {
				return -1
			}
			return 1
		}
	}
	return formats.ComparePrerelease(v.release, o.release, isDigits, func(x, y string) int {
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	})
}

// normalizeVersion returns the storage key of a version string.
func normalizeVersion(s string) (string, error) {
	v, err := parseVersion(s)
	if err != nil {
		return "", err
	}
	return v.Key(), nil
}

// validID reports whether id is a package id nuget.org would accept:
// ASCII letters, digits and '_', in runs separated by single '.' or '-'.
func validID(id string) error {
	if id == "" {
		return fmt.Errorf("the package id is empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("the package id is longer than %d characters", maxIDLen)
	}
	prevSep := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			prevSep = false
		case c == '.' || c == '-':
			if prevSep {
				return fmt.Errorf("package id %q: %q must separate letters or digits", formats.Clip(id), c)
			}
			prevSep = true
		default:
			return fmt.Errorf("package id %q: character %q is not allowed", formats.Clip(id), c)
		}
	}
	if prevSep {
		return fmt.Errorf("package id %q must not end with a separator", formats.Clip(id))
	}
	return nil
}

// pkg returns the package of an id: ids are case-insensitive, stored
// lower-cased.
func pkg(id string) formats.Package {
	return formats.Package{Format: formatName, Name: strings.ToLower(id)}
}

// CheckName implements formats.NameChecker: an id nuget.org would accept
// (validID). Normalize has dropped any namespace.
func (f *Format) CheckName(p formats.Package) error {
	if err := validID(p.Name); err != nil {
		return fmt.Errorf("%w: nuget: %s", formats.ErrInvalid, err.Error())
	}
	return nil
}
