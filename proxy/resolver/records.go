package resolver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// Origin restriction values, as CodeArtifact spells them.
const (
	Allow = "ALLOW"
	Block = "BLOCK"
)

// Origin types of a version.
const (
	OriginInternal = "INTERNAL"
	OriginExternal = "EXTERNAL"
)

// OriginConfig is a package's origin controls in one repository.
type OriginConfig struct {
	Publish  string `json:"publish"`
	Upstream string `json:"upstream"`
	// Admin is true when an administrator set the controls
	// (PutPackageOriginConfiguration) rather than the first version's arrival.
	Admin bool `json:"admin,omitempty"`
}

// PackageRecord is what a repository keeps about a package.
type PackageRecord struct {
	Package formats.Package   `json:"package"`
	Origin  OriginConfig      `json:"origin"`
	Tags    map[string]string `json:"tags,omitempty"`
	Extra   json.RawMessage   `json:"extra,omitempty"`
	// Internal is true once a version was published into this domain
	// (rather than ingested from an external connection) in this repository.
	Internal bool      `json:"internal,omitempty"`
	Updated  time.Time `json:"updated"`
	// RequestedAgain is set, once, when a client was served an asset of the
	// package from what is stored (not while it was fetched): a package of
	// external origin without it was cached and never asked for again.
	// Set by the resolver's request marks (requested.go), never per hit.
	RequestedAgain bool `json:"requestedAgain,omitempty"`
}

// VersionOrigin tells where a version entered the domain.
type VersionOrigin struct {
	Type       string `json:"type"`                 // INTERNAL or EXTERNAL
	Repository string `json:"repository,omitempty"` // first published into
	Connection string `json:"connection,omitempty"` // ingested from
}

// VersionRecord is a repository's reference to a version and its assets.
type VersionRecord struct {
	formats.Version
	Revision string        `json:"revision"`
	Origin   VersionOrigin `json:"origin"`
}

func pkgKey(domain, repoID string, p formats.Package) storage.PackageKey {
	return storage.PackageKey{Domain: domain, RepoID: repoID, Format: p.Format, Namespace: p.Namespace, Name: p.Name}
}

func verKey(domain, repoID string, p formats.Package, version string) storage.VersionKey {
	return pkgKey(domain, repoID, p).VersionKey(version)
}

// CheckNames refuses a package, version or file name that cannot be a part
// of a record key (see storage's key layout) with an error wrapping
// storage.ErrInvalidKey. The resolver's entry points call it before they
// look anything up (and so does the control plane): the in-memory caches are
// keyed by the same parts, so a name the store would refuse must not reach
// them either. Empty version and file are not checked.
func CheckNames(domain string, p formats.Package, version, file string) error {
	if err := verKey(domain, "", p, version).Check(); err != nil {
		return err
	}
	if file != "" {
		return storage.CheckPart("file name", file)
	}
	return nil
}

// recordKey is a record's key builder (storage's PackageKey, VersionKey).
type recordKey interface{ Bytes() ([]byte, error) }

// Revision identifies one exact set of assets, as CodeArtifact's opaque
// revisions do. It is exported for tools that write version records
// directly (stockpile-bench's million-package store).
func Revision(v *formats.Version) string {
	parts := make([]string, 0, len(v.Assets))
	for _, a := range v.Assets {
		parts = append(parts, a.Name+"\x00"+a.Digests.SHA256)
	}
	sort.Strings(parts)
	h := sha256.Sum256([]byte(v.Version + "\x00" + strings.Join(parts, "\x00")))
	return base64.StdEncoding.EncodeToString(h[:])
}

func (r *Resolver) loadPackage(ctx context.Context, domain, repoID string, p formats.Package) (*PackageRecord, error) {
	key, err := pkgKey(domain, repoID, p).Bytes()
	if err != nil {
		return nil, err
	}
	return loadRecord[PackageRecord](ctx, r.store, key, "package")
}

func (r *Resolver) loadVersion(ctx context.Context, domain, repoID string, p formats.Package, version string) (*VersionRecord, error) {
	key, err := verKey(domain, repoID, p, version).Bytes()
	if err != nil {
		return nil, err
	}
	return loadRecord[VersionRecord](ctx, r.store, key, "version")
}

// loadRecord reads and decodes the record at key, or returns nil when there
// is none; kind names it in errors.
func loadRecord[T any](ctx context.Context, store storage.Store, key []byte, kind string) (*T, error) {
	b, err := store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s record: %w", kind, err)
	}
	var rec T
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode %s record: %w", kind, err)
	}
	return &rec, nil
}

func (r *Resolver) loadVersions(ctx context.Context, domain, repoID string, p formats.Package) ([]*VersionRecord, error) {
	prefix, err := pkgKey(domain, repoID, p).VersionsPrefix()
	if err != nil {
		return nil, err
	}
	out, err := scanRecords[VersionRecord](ctx, r.store, prefix, "version")
	if err != nil {
		return nil, fmt.Errorf("scan versions: %w", err)
	}
	return out, nil
}

// scanRecords decodes every record under prefix, in key order; what names
// their kind in an error.
func scanRecords[T any](ctx context.Context, s storage.Store, prefix []byte, what string) ([]*T, error) {
	var out []*T
	err := s.Scan(ctx, prefix, func(_, v []byte) error {
		var rec T
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode %s record: %w", what, err)
		}
		out = append(out, &rec)
		return nil
	})
	return out, err
}

// deleteRecord removes the record k names.
func (r *Resolver) deleteRecord(ctx context.Context, k recordKey) error {
	key, err := k.Bytes()
	if err != nil {
		return err
	}
	return r.store.Delete(ctx, key)
}

func mutation(k recordKey, v any) (storage.Mutation, error) {
	key, err := k.Bytes()
	if err != nil {
		return storage.Mutation{}, err
	}
	b, err := EncodeRecord(v)
	if err != nil {
		return storage.Mutation{}, err
	}
	return storage.Mutation{Key: key, Value: b}, nil
}

// appendMutation appends to muts the write of v at k.
func appendMutation(muts []storage.Mutation, k recordKey, v any) ([]storage.Mutation, error) {
	m, err := mutation(k, v)
	if err != nil {
		return muts, err
	}
	return append(muts, m), nil
}

// applyAny applies muts, when there are any, in one batch.
func (r *Resolver) applyAny(ctx context.Context, muts []storage.Mutation) error {
	if len(muts) == 0 {
		return nil
	}
	return r.store.Apply(ctx, muts)
}

// EncodeRecord encodes a record as the resolver stores it: without HTML
// escaping, so that the formats' own documents kept in records (npm version
// objects, cargo index lines) keep their '<', '>' and '&' as they came. It is
// exported for tools that write records directly (stockpile-bench).
func EncodeRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
