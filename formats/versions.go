package formats

import (
	"cmp"
	"strings"
)

// CompareParsed orders two version strings by cmp when parse reads both. A
// version parse cannot read sorts before every one it can, and two such
// among themselves by their text, so a list with junk in it still has one
// order.
func CompareParsed[V any](a, b string, parse func(string) (V, bool), cmp func(V, V) int) int {
	va, oka := parse(a)
	vb, okb := parse(b)
	switch {
	case oka && okb:
		return cmp(va, vb)
	case oka:
		return 1
	case okb:
		return -1
	}
	return strings.Compare(a, b)
}

// ComparePrerelease orders two versions' pre-release identifiers as
// SemVer 2.0 §11 does: a version without any ranks above one with some;
// then identifier by identifier, those numeric says are numbers by value
// and below the others, which text orders; then a longer list above its
// prefix.
func ComparePrerelease(a, b []string, numeric func(string) bool, text func(x, y string) int) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		xn, yn := numeric(x), numeric(y)
		var c int
		switch {
		case xn && yn:
			c = CompareDigits(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = text(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// CompareDigits orders two strings of decimal digits by the numbers they
// write, however long, leading zeros ignored.
func CompareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}
