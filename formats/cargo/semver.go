package cargo

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// semver is a parsed SemVer 2.0 version, as crate versions must be.
type semver struct {
	major, minor, patch uint64
	pre                 []string
	build               string
}

// parseSemver parses a SemVer 2.0 version strictly (no leading 'v', no
// leading zeros in numeric parts, non-empty identifiers).
func parseSemver(s string) (semver, bool) {
	var v semver
	if s == "" || len(s) > 256 {
		return v, false
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		v.build = s[i+1:]
		if !validIdents(v.build, false) {
			return v, false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre := s[i+1:]
		if !validIdents(pre, true) {
			return v, false
		}
		v.pre = strings.Split(pre, ".")
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	for i, p := range parts {
		if !numeric(p) {
			return v, false
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, false
		}
		*nums[i] = n
	}
	return v, true
}

// numeric reports whether s is a number without leading zeros.
func numeric(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validIdents checks dot-separated identifiers of [0-9A-Za-z-]; prerelease
// numeric identifiers must not have leading zeros.
func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && !numeric(id) {
			return false
		}
	}
	return true
}

// withoutBuild returns the version without its build metadata.
func withoutBuild(s string) string {
	if i := strings.IndexByte(s, '+'); i >= 0 {
		return s[:i]
	}
	return s
}

// compareVersions orders version strings by SemVer precedence, then by build
// metadata; strings that do not parse sort before those that do, by text.
func compareVersions(a, b string) int {
	return formats.CompareParsed(a, b, parseSemver, func(va, vb semver) int {
		return cmp.Or(va.compare(vb), strings.Compare(va.build, vb.build))
	})
}

// compare orders by precedence (build metadata ignored).
func (v semver) compare(o semver) int {
	for _, d := range [][2]uint64{{v.major, o.major}, {v.minor, o.minor}, {v.patch, o.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return formats.ComparePrerelease(v.pre, o.pre, numeric, strings.Compare)
}
