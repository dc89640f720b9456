package storage

// Key joins parts into a record key. Parts are separated by a zero byte, which
// no name Stockpile accepts may contain, so that npm scopes and Maven groups
// (which contain '/') and prefixes that share a stem ("app" and "app2") can
// never run into each other. A prefix for Scan is built with Prefix.
//
// The key layout (first part is a one-letter space):
//
//	d  <domain>                                        domain record (JSON)
//	r  <domain> <repository-name>                      repository record (JSON, carries its id)
//	p  <domain> <repository-id> <format> <package>     package record: origin controls, tags
//	v  <domain> <repository-id> <format> <package> <version>  version record: status, assets
//	u  <connection> <url> <accept>                     cached upstream document
//	t  <connection> <url> <accept>                     when it was last revalidated (8 bytes)
//	g  <domain> <pattern>                              package group
//	s  <name>                                          server state (the token key)
//
// Blob keys belong to the backend (see badgerstore's keys.go); they do not share
// these spaces.
func Key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// Prefix is Key with a trailing separator: it matches keys that continue the
// given parts with at least one more part, and never a longer sibling part.
func Prefix(parts ...string) []byte {
	return append(Key(parts...), 0)
}
