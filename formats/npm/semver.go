package npm

import (
	"cmp"
	"regexp"
	"sort"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// semver is a parsed version, compared as SemVer 2.0 orders them (build
// metadata ignored). Numbers are kept as digit strings so no version
// overflows.
type semver struct {
	major, minor, patch string
	pre                 []string
}

// parseSemver parses loosely, as node-semver's loose mode does on read: a
// leading "v" or "=" is allowed.
func parseSemver(s string) (semver, bool) {
	s = strings.TrimLeft(s, "v=")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var pre string
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, pre = s[:i], s[i+1:]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	for _, p := range parts {
		if !isDigits(p) {
			return semver{}, false
		}
	}
	v := semver{major: trimZeros(parts[0]), minor: trimZeros(parts[1]), patch: trimZeros(parts[2])}
	if pre != "" {
		v.pre = strings.Split(pre, ".")
	}
	return v, true
}

var strictSemver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// validSemver reports whether s is a SemVer 2.0 version, as npm publishes them.
func validSemver(s string) bool { return len(s) <= maxVersionLen && strictSemver.MatchString(s) }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0"
	}
	return t
}

func (a semver) compare(b semver) int {
	for _, c := range [][2]string{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		if r := formats.CompareDigits(c[0], c[1]); r != 0 {
			return r
		}
	}
	return formats.ComparePrerelease(a.pre, b.pre, isDigits, strings.Compare)
}

// compareVersions orders version strings: unparseable ones first (by
// string), then by SemVer precedence, then by string for a stable order.
func compareVersions(a, b string) int {
	return formats.CompareParsed(a, b, parseSemver, func(va, vb semver) int {
		return cmp.Or(va.compare(vb), strings.Compare(a, b))
	})
}

func sortVersions(vs []string) {
	sort.Slice(vs, func(i, j int) bool { return compareVersions(vs[i], vs[j]) < 0 })
}

// isPrerelease reports whether v parses and has a prerelease part.
func isPrerelease(v string) bool {
	s, ok := parseSemver(v)
	return ok && len(s.pre) > 0
}

// highest returns the highest version that is not a prerelease, else the
// highest, from versions sorted ascending; "" for none.
func highest(sorted []string) string {
	for i := len(sorted) - 1; i >= 0; i-- {
		if _, ok := parseSemver(sorted[i]); ok && !isPrerelease(sorted[i]) {
			return sorted[i]
		}
	}
	if len(sorted) == 0 {
		return ""
	}
	return sorted[len(sorted)-1]
}
