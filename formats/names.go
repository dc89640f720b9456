package formats

import (
	"fmt"
	"unicode"
)

// RefusedName is the error for a name a format's read path refuses (a
// package id, gem or crate name in a URL), given why. A name no registry
// could hold, with a control character or longer than max bytes, is the
// client's mistake: ErrInvalid, 400, as the engine answers every name it
// cannot store. Any other is a name the registry simply does not hold:
// ErrNotFound, 404, as the registries themselves answer it.
func RefusedName(name string, max int, why error) error {
	sentinel := ErrNotFound
	if len(name) > max || hasControl(name) {
		sentinel = ErrInvalid
	}
	return fmt.Errorf("%w: %w", sentinel, why)
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
