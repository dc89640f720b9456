package storage

import (
	"bytes"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Record keys. A key is a one-letter space and the record's parts, separated
// by a zero byte, which no part may contain, so that
// npm scopes and Maven groups (which contain '/') and prefixes that share a
// stem ("app" and "app2") can never run into each other. A prefix for Scan
// ends with the separator, so it matches keys that continue the given parts
// with at least one more part, and never a longer sibling part.
//
// The key layout, and the builder of each record kind (the only way code
// outside this package makes a record key):
//
//	d  <domain>                                                  DomainKey: domain record (JSON)
//	r  <domain> <repository-name>                                RepositoryKey: repository record (JSON, carries its id)
//	p  <domain> <repository-id> <format> <namespace> <name>      PackageKey: package record: origin controls, tags
//	v  <domain> <repository-id> <format> <namespace> <name> <version>  VersionKey: version record: status, assets
//	u  <connection> <url> <accept>                               DocumentKey: cached upstream document
//	t  <connection> <url> <accept>                               DocumentKey.Revalidated: when it was last revalidated (8 bytes)
//	g  <domain> <pattern>                                        GroupKey: package group
//	s  <name>                                                    StateKey: server state (the token key)
//	k  <domain> <name>                                           ScopedTokenKey: scoped long-lived token (JSON, secret hashed)
//
// Every part is checked where its key is built (checkPart): it must be valid
// UTF-8 with no control character (U+0000 to U+001F, U+007F to U+009F), at
// most MaxPartLen bytes, and the whole key at most MaxKeyLen bytes, well
// below Badger's 65000-byte key limit. A violation is an error wrapping
// ErrInvalidKey, which the server answers with 400: a name that breaks these
// rules is the client's, never a reason to fail the request with 500, and it
// never reaches the store.
//
// Blob keys belong to the backend (see badgerstore's keys.go); they do not share
// these spaces.

// Limits of a record key.
const (
	// MaxPartLen bounds one part. No registry Stockpile speaks allows
	// names, versions or file names anywhere near it.
	MaxPartLen = 8 << 10
	// MaxKeyLen bounds a whole key.
	MaxKeyLen = 32 << 10
)

// The spaces: the first part of every record key.
const (
	spaceDomain      = "d"
	spaceRepository  = "r"
	spacePackage     = "p"
	spaceVersion     = "v"
	spaceDocument    = "u"
	spaceRevalidated = "t"
	spaceGroup       = "g"
	spaceState       = "s"
	spaceScopedToken = "k"
)

// ErrInvalidKey is wrapped by every error about a record key's parts.
var ErrInvalidKey = errors.New("invalid name")

// KeyError tells which part of a record key is unacceptable, and why. It
// never repeats the part itself, which may be huge or unprintable.
type KeyError struct {
	Field  string // what the part is: "package name", "version", ...
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s: %s %s", ErrInvalidKey, e.Field, e.Reason) }

func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// CheckPart returns a *KeyError when s cannot be a part of a record key.
// field names the part in the error.
func CheckPart(field, s string) error {
	if len(s) > MaxPartLen {
		return &KeyError{Field: field, Reason: fmt.Sprintf("is %d bytes long, more than the %d allowed", len(s), MaxPartLen)}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return &KeyError{Field: field, Reason: fmt.Sprintf("contains a control character (byte %d)", i)}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return &KeyError{Field: field, Reason: fmt.Sprintf("is not valid UTF-8 (byte %d)", i)}
		}
		if unicode.IsControl(r) {
			return &KeyError{Field: field, Reason: fmt.Sprintf("contains a control character (byte %d)", i)}
		}
		i += n
	}
	return nil
}

// part is one named part of a key being built.
type part struct{ field, value string }

// build checks parts and joins them after space; with prefix, the key ends
// with a separator.
func build(space string, prefix bool, parts ...part) ([]byte, error) {
	extra := 0
	if prefix {
		extra = 1
	}
	n, err := check(len(space)+extra, parts...)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, n)
	b = append(b, space...)
	for _, p := range parts {
		b = append(b, 0)
		b = append(b, p.value...)
	}
	if prefix {
		b = append(b, 0)
	}
	return b, nil
}

// check checks each part and the length of the key they make with n more
// bytes, and returns that length.
func check(n int, parts ...part) (int, error) {
	n += len(parts)
	for _, p := range parts {
		if err := CheckPart(p.field, p.value); err != nil {
			return 0, err
		}
		n += len(p.value)
	}
	if n > MaxKeyLen {
		return 0, &KeyError{Field: "name", Reason: fmt.Sprintf("makes a key of %d bytes, more than the %d allowed", n, MaxKeyLen)}
	}
	return n, nil
}

// DomainKey names a domain's record.
type DomainKey struct{ Domain string }

// Bytes returns the key.
func (k DomainKey) Bytes() ([]byte, error) {
	return build(spaceDomain, false, part{"domain", k.Domain})
}

// DomainsPrefix matches every domain record.
func DomainsPrefix() []byte { return Prefix(spaceDomain) }

// RepositoryKey names a repository's record, by the repository's name.
type RepositoryKey struct{ Domain, Name string }

// Bytes returns the key.
func (k RepositoryKey) Bytes() ([]byte, error) {
	return build(spaceRepository, false, part{"domain", k.Domain}, part{"repository", k.Name})
}

// RepositoriesPrefix matches every repository record.
func RepositoriesPrefix() []byte { return Prefix(spaceRepository) }

// PackageKey names a package's record in one repository (by the
// repository's id). Namespace is empty for formats without one.
type PackageKey struct{ Domain, RepoID, Format, Namespace, Name string }

// Check returns the error Bytes would, without building the key (the
// resolver's warm paths check a name before they look it up in memory).
func (k PackageKey) Check() error {
	_, err := check(len(spacePackage), part{"domain", k.Domain}, part{"repository", k.RepoID},
		part{"format", k.Format}, part{"namespace", k.Namespace}, part{"package name", k.Name})
	return err
}

// Bytes returns the key.
func (k PackageKey) Bytes() ([]byte, error) {
	return build(spacePackage, false, part{"domain", k.Domain}, part{"repository", k.RepoID},
		part{"format", k.Format}, part{"namespace", k.Namespace}, part{"package name", k.Name})
}

// Version names one of the package's versions.
func (k PackageKey) VersionKey(version string) VersionKey {
	return VersionKey{PackageKey: k, Version: version}
}

// VersionsPrefix matches the records of every version of the package.
func (k PackageKey) VersionsPrefix() ([]byte, error) {
	return build(spaceVersion, true, part{"domain", k.Domain}, part{"repository", k.RepoID},
		part{"format", k.Format}, part{"namespace", k.Namespace}, part{"package name", k.Name})
}

// VersionKey names a version's record in one repository.
type VersionKey struct {
	PackageKey
	Version string
}

// Check returns the error Bytes would, without building the key.
func (k VersionKey) Check() error {
	_, err := check(len(spaceVersion), part{"domain", k.Domain}, part{"repository", k.RepoID},
		part{"format", k.Format}, part{"namespace", k.Namespace}, part{"package name", k.Name}, part{"version", k.Version})
	return err
}

// Bytes returns the key.
func (k VersionKey) Bytes() ([]byte, error) {
	return build(spaceVersion, false, part{"domain", k.Domain}, part{"repository", k.RepoID},
		part{"format", k.Format}, part{"namespace", k.Namespace}, part{"package name", k.Name}, part{"version", k.Version})
}

// RepositoryPackagesPrefix matches the package records of one repository;
// with a format, only that format's.
func RepositoryPackagesPrefix(domain, repoID, format string) ([]byte, error) {
	if format == "" {
		return build(spacePackage, true, part{"domain", domain}, part{"repository", repoID})
	}
	return build(spacePackage, true, part{"domain", domain}, part{"repository", repoID}, part{"format", format})
}

// RepositoryVersionsPrefix matches the version records of one repository.
func RepositoryVersionsPrefix(domain, repoID string) ([]byte, error) {
	return build(spaceVersion, true, part{"domain", domain}, part{"repository", repoID})
}

// DomainVersionsPrefix matches the version records of every repository of
// a domain.
func DomainVersionsPrefix(domain string) ([]byte, error) {
	return build(spaceVersion, true, part{"domain", domain})
}

// PackagesPrefix matches every package record.
func PackagesPrefix() []byte { return Prefix(spacePackage) }

// VersionsPrefix matches every version record.
func VersionsPrefix() []byte { return Prefix(spaceVersion) }

// DocumentKey names an upstream document cached for a connection: the
// document's URL and the Accept header it was asked with.
type DocumentKey struct{ Conn, URL, Accept string }

// Bytes returns the key of the document.
func (k DocumentKey) Bytes() ([]byte, error) {
	return build(spaceDocument, false, part{"connection", k.Conn}, part{"url", k.URL}, part{"accept", k.Accept})
}

// Revalidated returns the key of when the document was last revalidated.
func (k DocumentKey) Revalidated() ([]byte, error) {
	return build(spaceRevalidated, false, part{"connection", k.Conn}, part{"url", k.URL}, part{"accept", k.Accept})
}

// DocumentsPrefix matches every cached document.
func DocumentsPrefix() []byte { return Prefix(spaceDocument) }

// RevalidationsPrefix matches every revalidation time.
func RevalidationsPrefix() []byte { return Prefix(spaceRevalidated) }

// GroupKey names a package group of a domain.
type GroupKey struct{ Domain, Pattern string }

// Bytes returns the key.
func (k GroupKey) Bytes() ([]byte, error) {
	return build(spaceGroup, false, part{"domain", k.Domain}, part{"package group", k.Pattern})
}

// GroupsPrefix matches every package group.
func GroupsPrefix() []byte { return Prefix(spaceGroup) }

// ScopedTokenKey names a scoped long-lived token of a domain.
type ScopedTokenKey struct{ Domain, Name string }

// Bytes returns the key.
func (k ScopedTokenKey) Bytes() ([]byte, error) {
	return build(spaceScopedToken, false, part{"domain", k.Domain}, part{"scoped token", k.Name})
}

// ScopedTokensPrefix matches every scoped long-lived token.
func ScopedTokensPrefix() []byte { return Prefix(spaceScopedToken) }

// StateKey names a piece of the server's own state.
type StateKey struct{ Name string }

// Bytes returns the key.
func (k StateKey) Bytes() ([]byte, error) { return build(spaceState, false, part{"state", k.Name}) }

// SplitKey returns a record key's space and parts: the inverse of the
// builders, for tools and tests that read keys back.
func SplitKey(key []byte) (space string, parts []string) {
	fields := bytes.Split(key, []byte{0})
	parts = make([]string, 0, len(fields)-1)
	for _, f := range fields[1:] {
		parts = append(parts, string(f))
	}
	return string(fields[0]), parts
}

// Key joins parts into a record key with no check: the builders above are
// built on it, and storage backends' conformance tests use it to make keys
// of any shape. Code outside storage uses the builders.
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
