package pypi

import (
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// maxVersionLen bounds a version string.
const maxVersionLen = 128

// pep440 is the version grammar of PEP 440 (packaging's VERSION_PATTERN).
var pep440 = regexp.MustCompile(`(?i)^\s*v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
	`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?` +
	`(?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$`)

// version is a parsed PEP 440 version.
type version struct {
	epoch   *big.Int
	release []*big.Int
	preL    string // "", "a", "b" or "rc"
	preN    *big.Int
	post    *big.Int // nil: none
	dev     *big.Int // nil: none
	local   []string
}

func atoi(s string) *big.Int {
	if s == "" {
		return new(big.Int)
	}
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

// parseVersion parses a PEP 440 version; ok is false for legacy versions.
func parseVersion(s string) (v version, ok bool) {
	if len(s) > maxVersionLen {
		return version{}, false
	}
	m := pep440.FindStringSubmatch(s)
	if m == nil {
		return version{}, false
	}
	g := func(name string) string { return m[pep440.SubexpIndex(name)] }
	v.epoch = atoi(g("epoch"))
	for _, part := range strings.Split(g("release"), ".") {
		v.release = append(v.release, atoi(part))
	}
	if l := strings.ToLower(g("pre_l")); l != "" {
		switch l {
		case "alpha":
			l = "a"
		case "beta":
			l = "b"
		case "c", "pre", "preview":
			l = "rc"
		}
		v.preL, v.preN = l, atoi(g("pre_n"))
	}
	if g("post") != "" {
		n := g("post_n1")
		if n == "" {
			n = g("post_n2")
		}
		v.post = atoi(n)
	}
	if g("dev") != "" {
		v.dev = atoi(g("dev_n"))
	}
	if l := g("local"); l != "" {
		v.local = strings.FieldsFunc(strings.ToLower(l), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	}
	return v, true
}

// String returns the normal form of v (packaging's str(Version)).
func (v version) String() string {
	var b strings.Builder
	if v.epoch.Sign() != 0 {
		b.WriteString(v.epoch.String())
		b.WriteByte('!')
	}
	for i, r := range v.release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(r.String())
	}
	if v.preL != "" {
		b.WriteString(v.preL)
		b.WriteString(v.preN.String())
	}
	if v.post != nil {
		b.WriteString(".post")
		b.WriteString(v.post.String())
	}
	if v.dev != nil {
		b.WriteString(".dev")
		b.WriteString(v.dev.String())
	}
	if len(v.local) > 0 {
		b.WriteByte('+')
		b.WriteString(strings.Join(v.local, "."))
	}
	return b.String()
}

// prerelease reports whether v is a pre- or development release.
func (v version) prerelease() bool { return v.preL != "" || v.dev != nil }

// normalizeVersion returns the PEP 440 normal form of s, or s unchanged
// (trimmed) when it is a legacy version: such versions exist upstream and
// must not be refused on read.
func normalizeVersion(s string) string {
	if v, ok := parseVersion(s); ok {
		return v.String()
	}
	return strings.TrimSpace(s)
}

// compareVersions orders two version strings as PEP 440 does; legacy
// versions sort before every valid one, among themselves by string.
func compareVersions(a, b string) int {
	return formats.CompareParsed(a, b, parseVersion, version.compare)
}

// compare orders two valid versions as PEP 440 does.
func (va version) compare(vb version) int {
	if c := va.epoch.Cmp(vb.epoch); c != 0 {
		return c
	}
	// Release segments compare with trailing zeros ignored (1.0 == 1.0.0).
	n := max(len(va.release), len(vb.release))
	for i := 0; i < n; i++ {
		x, y := segment(va.release, i), segment(vb.release, i)
		if c := x.Cmp(y); c != 0 {
			return c
		}
	}
	if c := cmpPre(va, vb); c != 0 {
		return c
	}
	// No post release sorts before any post release.
	if c := cmpOptional(va.post, vb.post, -1); c != 0 {
		return c
	}
	// No dev release sorts after any dev release.
	if c := cmpOptional(va.dev, vb.dev, 1); c != 0 {
		return c
	}
	return cmpLocal(va.local, vb.local)
}

var zero = new(big.Int)

func segment(r []*big.Int, i int) *big.Int {
	if i < len(r) {
		return r[i]
	}
	return zero
}

// preRank ranks the pre-release part: a dev release of a final version
// (1.0.dev1) sorts before its pre-releases, a final release after them.
func preRank(v version) int {
	switch {
	case v.preL == "" && v.post == nil && v.dev != nil:
		return 0
	case v.preL == "a":
		return 1
	case v.preL == "b":
		return 2
	case v.preL == "rc":
		return 3
	}
	return 4
}

func cmpPre(a, b version) int {
	ra, rb := preRank(a), preRank(b)
	if ra != rb {
		return ra - rb
	}
	if ra >= 1 && ra <= 3 {
		return a.preN.Cmp(b.preN)
	}
	return 0
}

// cmpOptional compares optional numbers; absent sorts as absent (-1: before
// any number, 1: after any number).
func cmpOptional(a, b *big.Int, absent int) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return absent
	case b == nil:
		return -absent
	}
	return a.Cmp(b)
}

// cmpLocal compares local version labels: none sorts first; numeric parts
// sort after alphanumeric ones and compare as numbers.
func cmpLocal(a, b []string) int {
	if len(a) == 0 || len(b) == 0 {
		return len(a) - len(b)
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		na, ea := strconv.ParseUint(a[i], 10, 64)
		nb, eb := strconv.ParseUint(b[i], 10, 64)
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
		case ea == nil:
			return 1
		case eb == nil:
			return -1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return len(a) - len(b)
}

// sortVersions sorts version strings in ascending PEP 440 order.
func sortVersions(vs []string) {
	sort.SliceStable(vs, func(i, j int) bool {
		if c := compareVersions(vs[i], vs[j]); c != 0 {
			return c < 0
		}
		return vs[i] < vs[j]
	})
}

// isPrerelease reports whether s is a pre- or development release.
func isPrerelease(s string) bool {
	v, ok := parseVersion(s)
	return ok && v.prerelease()
}
