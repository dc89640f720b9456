package formats

import "strings"

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
