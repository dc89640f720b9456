package maven

import (
	"sort"
	"strings"
)

// Maven's version ordering, as org.apache.maven.artifact.versioning.
// ComparableVersion of Maven 3.8.7 (the client the tests drive) defines it:
// a version is split on '.', '-' and on digit/letter transitions; numbers
// compare numerically; trailing zeros and empty items are dropped
// (1 = 1.0 = 1.0.0); qualifiers order alpha < beta < milestone < rc = cr <
// snapshot < "" = ga = final = release < sp, unknown qualifiers after them
// in lexical order (case-insensitive); a '-' item ranks below a '.' number
// (1-1 < 1.1), and ".X" before a string is read as "-X" (1.0.RC2 < 1.0-RC3).

type itemKind int

const (
	kindInt itemKind = iota
	kindString
	kindList
)

// item is one parsed token: a number (digits without leading zeros), a
// qualifier, or a sub-list started by '-' or a digit/letter transition.
type item struct {
	kind itemKind
	num  string // kindInt: decimal digits, "" for zero
	str  string // kindString: the qualifier after aliasing
	list []*item
}

var qualifiers = []string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

// releaseIndex is the comparable form of the empty qualifier.
const releaseIndex = "5"

var qualifierAliases = map[string]string{"ga": "", "final": "", "release": "", "cr": "rc"}

func comparableQualifier(q string) string {
	for i, s := range qualifiers {
		if s == q {
			return string(rune('0' + i))
		}
	}
	return "7-" + q
}

func newInt(digits string) *item {
	return &item{kind: kindInt, num: strings.TrimLeft(digits, "0")}
}

func newString(s string, followedByDigit bool) *item {
	if followedByDigit && len(s) == 1 {
		switch s {
		case "a":
			s = "alpha"
		case "b":
			s = "beta"
		case "m":
			s = "milestone"
		}
	}
	if a, ok := qualifierAliases[s]; ok {
		s = a
	}
	return &item{kind: kindString, str: s}
}

func (it *item) isNull() bool {
	switch it.kind {
	case kindInt:
		return it.num == ""
	case kindString:
		return comparableQualifier(it.str) == releaseIndex
	default:
		return len(it.list) == 0
	}
}

func cmpInt(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compare orders it against other; other nil stands for "nothing" (the
// shorter side of a list comparison).
func (it *item) compare(other *item) int {
	switch it.kind {
	case kindInt:
		if other == nil {
			if it.num == "" {
				return 0
			}
			return 1
		}
		switch other.kind {
		case kindInt:
			return cmpInt(it.num, other.num)
		default: // string or list
			return 1
		}
	case kindString:
		if other == nil {
			return strings.Compare(comparableQualifier(it.str), releaseIndex)
		}
		switch other.kind {
		case kindString:
			return strings.Compare(comparableQualifier(it.str), comparableQualifier(other.str))
		default: // int or list
			return -1
		}
	default:
		if other == nil {
			if len(it.list) == 0 {
				return 0
			}
			return it.list[0].compare(nil)
		}
		switch other.kind {
		case kindInt:
			return -1
		case kindString:
			return 1
		}
		for i := 0; i < len(it.list) || i < len(other.list); i++ {
			var l, r *item
			if i < len(it.list) {
				l = it.list[i]
			}
			if i < len(other.list) {
				r = other.list[i]
			}
			var c int
			switch {
			case l == nil && r == nil:
				c = 0
			case l == nil:
				c = -r.compare(nil)
			default:
				c = l.compare(r)
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
}

func (it *item) normalize() {
	for i := len(it.list) - 1; i >= 0; i-- {
		last := it.list[i]
		if last.isNull() {
			it.list = append(it.list[:i], it.list[i+1:]...)
		} else if last.kind != kindList {
			break
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseItem(digit bool, s string) *item {
	if digit {
		return newInt(s)
	}
	return newString(s, false)
}

// parseVersion parses v as ComparableVersion does.
func parseVersion(v string) *item {
	v = strings.ToLower(v)
	root := &item{kind: kindList}
	list := root
	stack := []*item{root}
	push := func() {
		l := &item{kind: kindList}
		list.list = append(list.list, l)
		list = l
		stack = append(stack, l)
	}
	digit := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '.' || c == '-':
			if i == start {
				list.list = append(list.list, newInt(""))
			} else {
				list.list = append(list.list, parseItem(digit, v[start:i]))
			}
			start = i + 1
			if c == '-' {
				push()
			}
		case isDigit(c):
			if !digit && i > start {
				// 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X
				if len(list.list) > 0 {
					push()
				}
				list.list = append(list.list, newString(v[start:i], true))
				start = i
				push()
			}
			digit = true
		default:
			if digit && i > start {
				list.list = append(list.list, parseItem(true, v[start:i]))
				start = i
				push()
			}
			digit = false
		}
	}
	if len(v) > start {
		// 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X
		if !digit && len(list.list) > 0 {
			push()
		}
		list.list = append(list.list, parseItem(digit, v[start:]))
	}
	for i := len(stack) - 1; i >= 0; i-- {
		stack[i].normalize()
	}
	return root
}

// canonical renders a parsed version as ComparableVersion.getCanonical does.
func (it *item) canonical() string {
	switch it.kind {
	case kindInt:
		if it.num == "" {
			return "0"
		}
		return it.num
	case kindString:
		return it.str
	}
	var b strings.Builder
	for i, x := range it.list {
		if i > 0 {
			if x.kind == kindList {
				b.WriteByte('-')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteString(x.canonical())
	}
	return b.String()
}

// CompareVersions orders two Maven versions: negative when a < b, zero when
// Maven considers them equal (1.0 and 1.0.0), positive when a > b.
func CompareVersions(a, b string) int {
	return parseVersion(a).compare(parseVersion(b))
}

// sortVersions sorts versions ascending in Maven's order; versions Maven
// considers equal keep a stable, lexical order so output is deterministic.
func sortVersions(vs []string) {
	parsed := make(map[string]*item, len(vs))
	for _, v := range vs {
		parsed[v] = parseVersion(v)
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if c := parsed[vs[i]].compare(parsed[vs[j]]); c != 0 {
			return c < 0
		}
		return vs[i] < vs[j]
	})
}
