package cargo

import (
	"archive/tar"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// publishMeta is the JSON metadata of a publish request (cargo's NewCrate).
type publishMeta struct {
	Name          string              `json:"name"`
	Vers          string              `json:"vers"`
	Deps          []publishDep        `json:"deps"`
	Features      map[string][]string `json:"features"`
	Authors       []string            `json:"authors"`
	Description   *string             `json:"description"`
	Documentation *string             `json:"documentation"`
	Homepage      *string             `json:"homepage"`
	Readme        *string             `json:"readme"`
	ReadmeFile    *string             `json:"readme_file"`
	Keywords      []string            `json:"keywords"`
	Categories    []string            `json:"categories"`
	License       *string             `json:"license"`
	LicenseFile   *string             `json:"license_file"`
	Repository    *string             `json:"repository"`
	Links         *string             `json:"links"`
	RustVersion   *string             `json:"rust_version"`
}

// publishDep is a dependency in the publish metadata.
type publishDep struct {
	Name               string   `json:"name"`
	VersionReq         string   `json:"version_req"`
	Features           []string `json:"features"`
	Optional           bool     `json:"optional"`
	DefaultFeatures    bool     `json:"default_features"`
	Target             *string  `json:"target"`
	Kind               string   `json:"kind"`
	Registry           *string  `json:"registry"`
	ExplicitNameInToml *string  `json:"explicit_name_in_toml"`
}

// lineDep is a dependency in an index line, as crates.io writes it, plus
// the registry of a dependency from another registry (alternative
// registries keep it; null means the registry of the line).
type lineDep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          *string  `json:"target"`
	Kind            string   `json:"kind"`
	Registry        *string  `json:"registry,omitempty"`
	Package         *string  `json:"package,omitempty"`
}

// line is an index line, with crates.io's members in crates.io's order.
type line struct {
	Name        string              `json:"name"`
	Vers        string              `json:"vers"`
	Deps        []lineDep           `json:"deps"`
	Cksum       string              `json:"cksum"`
	Features    map[string][]string `json:"features"`
	Features2   map[string][]string `json:"features2,omitempty"`
	Yanked      bool                `json:"yanked"`
	Links       *string             `json:"links,omitempty"`
	RustVersion *string             `json:"rust_version,omitempty"`
	Pubtime     string              `json:"pubtime,omitempty"`
	V           int                 `json:"v,omitempty"`
}

// publishWarnings is the answer to a successful publish.
var publishWarnings = map[string]map[string][]string{
	"warnings": {"invalid_categories": {}, "invalid_badges": {}, "other": {}},
}

// maxReadme bounds the readme kept with a version for the control plane.
const maxReadme = 64 << 10

// publish handles PUT api/v1/crates/new: the body is the JSON metadata and
// the .crate, each after its length as a little-endian u32.
func (h *handler) publish(c echo.Context) error {
	ref := formats.RepoFrom(c)
	in := formats.IntakeFrom(c)
	limit := in.Body() + 8
	if h.f.opts.MaxPublishBody > 0 {
		limit = min(limit, h.f.opts.MaxPublishBody)
	}
	if c.Request().ContentLength > limit {
		return formats.TooLarge("cargo", "the publish body", limit)
	}
	metaJSON, crate, err := readFrame(formats.LimitBody(c.Request().Body, limit, "cargo", "the publish body"), in)
	if err != nil {
		return err
	}
	defer crate.spool.Close()
	var m publishMeta
	if err := json.Unmarshal(metaJSON, &m); err != nil {
		return fmt.Errorf("%w: cargo: the publish metadata is not valid JSON: %v", formats.ErrInvalid, err)
	}
	if err := m.validate(); err != nil {
		return err
	}
	if err := checkCrate(crate.spool.Reader(), m.Name, m.Vers, h.f.opts.MaxUnpackedSize); err != nil {
		return err
	}

	p := pkg(m.Name)
	ctx := withSpelling(c.Request().Context(), m.Name)
	// crates.io's rules the engine does not know: a crate keeps one
	// spelling, and two versions may not differ only in build metadata.
	// (Existing versions and origin controls are the engine's.)
	if v, err := h.res.View(ctx, ref, p); err == nil {
		for ver, vv := range v.Versions {
			if old, ok := decodeMeta(vv.Meta); ok && old.Name != m.Name {
				return fmt.Errorf("%w: cargo: crate %s is already known as %s (names are compared ignoring case and '-'/'_'): publish it under that name", formats.ErrConflict, m.Name, old.Name)
			}
			if ver != m.Vers && withoutBuild(ver) == withoutBuild(m.Vers) {
				return fmt.Errorf("%w: cargo: version %s of %s exists already (versions differing only in build metadata collide)", formats.ErrConflict, ver, m.Name)
			}
		}
	}

	cksum := hex.EncodeToString(crate.sha256.Sum(nil))
	now := time.Now().UTC().Truncate(time.Second)
	raw, err := m.indexLine(cksum, now)
	if err != nil {
		return err
	}
	meta := versionMeta{
		Name: m.Name, Line: string(raw), Publisher: ref.User,
		Description: deref(m.Description), License: deref(m.License), Homepage: deref(m.Homepage),
		Documentation: deref(m.Documentation), Repository: deref(m.Repository), Readme: truncate(deref(m.Readme), maxReadme),
	}
	err = h.res.Publish(ctx, ref, p, formats.Publication{
		Version: formats.Version{
			Version:   m.Vers,
			Status:    formats.StatusPublished,
			Meta:      meta.encode(),
			Published: now,
			Assets: []formats.AssetRef{{
				Name:    crateFile(m.Name, m.Vers),
				Digests: formats.Digests{SHA256: cksum},
				Size:    crate.spool.Size(),
			}},
		},
		Content: func(string) (io.Reader, error) { return crate.spool.Reader(), nil },
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, publishWarnings)
}

// spooledCrate is the .crate of a publish, spooled, and its SHA-256.
type spooledCrate struct {
	spool  *formats.Spool
	sha256 hash.Hash
}

// readFrame reads a publish body: the JSON metadata (at most the intake's
// max_metadata_size, in memory) and the .crate (at most max_publish_size,
// spooled), each after its length as a little-endian u32. The caller
// closes the crate's spool.
func readFrame(r io.Reader, in formats.Intake) (meta []byte, crate *spooledCrate, err error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, nil, frameError(err, "the publish body is too short for the metadata length")
	}
	size := int64(binary.LittleEndian.Uint32(n[:]))
	if size > in.MaxMetadataSize {
		return nil, nil, formats.TooLarge("cargo", "the publish metadata", in.MaxMetadataSize)
	}
	meta = make([]byte, size)
	if got, err := io.ReadFull(r, meta); err != nil {
		return nil, nil, frameError(err, fmt.Sprintf("the publish metadata is declared as %d bytes but only %d follow", size, got))
	}
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, nil, frameError(err, "the publish body ends before the .crate length")
	}
	size = int64(binary.LittleEndian.Uint32(n[:]))
	switch {
	case size == 0:
		return nil, nil, fmt.Errorf("%w: cargo: the .crate is empty", formats.ErrInvalid)
	case size > in.MaxPublishSize:
		return nil, nil, formats.TooLarge("cargo", "the .crate", in.MaxPublishSize)
	}
	sp, err := in.NewSpool(size, "cargo: the .crate")
	if err != nil {
		return nil, nil, err
	}
	crate = &spooledCrate{spool: sp, sha256: sha256.New()}
	got, err := io.Copy(io.MultiWriter(sp, crate.sha256), io.LimitReader(r, size))
	if err == nil && got < size {
		err = fmt.Errorf("%w: cargo: the .crate is declared as %d bytes but %d follow", formats.ErrInvalid, size, got)
	}
	if err == nil {
		if k, _ := io.ReadFull(r, n[:1]); k > 0 {
			err = fmt.Errorf("%w: cargo: the .crate is declared as %d bytes but more follow", formats.ErrInvalid, size)
		}
	}
	if err != nil {
		sp.Close()
		return nil, nil, frameError(err, "reading the publish body")
	}
	return meta, crate, nil
}

// frameError keeps a size or format error as it is and makes any other
// read error a 400 saying what was expected.
func frameError(err error, what string) error {
	if errors.Is(err, formats.ErrTooLarge) || errors.Is(err, formats.ErrInvalid) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: cargo: %s", formats.ErrInvalid, what)
	}
	return fmt.Errorf("%w: cargo: %s: %v", formats.ErrInvalid, what, err)
}

// validate checks the metadata the way a registry must before it writes an
// index line from it.
func (m *publishMeta) validate() error {
	if err := checkPublishName(m.Name); err != nil {
		return err
	}
	if _, ok := parseSemver(m.Vers); !ok {
		return fmt.Errorf("%w: cargo: version %q of %s is not a SemVer 2.0 version", formats.ErrInvalid, m.Vers, m.Name)
	}
	for i, d := range m.Deps {
		what := fmt.Sprintf("dependency %q of %s", d.Name, m.Name)
		if !validLookupName(d.Name) {
			return fmt.Errorf("%w: cargo: %s: %q is not a crate name", formats.ErrInvalid, what, d.Name)
		}
		if d.ExplicitNameInToml != nil && !validLookupName(*d.ExplicitNameInToml) {
			return fmt.Errorf("%w: cargo: %s: the name %q it is renamed to is not a crate name", formats.ErrInvalid, what, *d.ExplicitNameInToml)
		}
		if !printable(d.VersionReq, 1024) {
			return fmt.Errorf("%w: cargo: %s: the version requirement %q is empty or invalid", formats.ErrInvalid, what, d.VersionReq)
		}
		switch d.Kind {
		case "":
			m.Deps[i].Kind = "normal"
		case "normal", "dev", "build":
		default:
			return fmt.Errorf("%w: cargo: %s: kind %q is not normal, dev or build", formats.ErrInvalid, what, d.Kind)
		}
		for _, feat := range d.Features {
			if !printable(feat, 256) {
				return fmt.Errorf("%w: cargo: %s: feature %q is empty or invalid", formats.ErrInvalid, what, feat)
			}
		}
		if d.Target != nil && !printable(*d.Target, 1024) {
			return fmt.Errorf("%w: cargo: %s: target %q is empty or invalid", formats.ErrInvalid, what, *d.Target)
		}
		if d.Registry != nil && !printable(*d.Registry, 2048) {
			return fmt.Errorf("%w: cargo: %s: registry %q is empty or invalid", formats.ErrInvalid, what, *d.Registry)
		}
	}
	for name, values := range m.Features {
		if !validFeatureName(name) {
			return fmt.Errorf("%w: cargo: feature name %q of %s is invalid", formats.ErrInvalid, name, m.Name)
		}
		for _, v := range values {
			if !printable(v, 256) {
				return fmt.Errorf("%w: cargo: feature %q of %s enables %q, which is empty or invalid", formats.ErrInvalid, name, m.Name, v)
			}
		}
	}
	if m.Links != nil && !printable(*m.Links, 256) {
		return fmt.Errorf("%w: cargo: links %q of %s is empty or invalid", formats.ErrInvalid, *m.Links, m.Name)
	}
	if m.RustVersion != nil && !validRustVersion(*m.RustVersion) {
		return fmt.Errorf("%w: cargo: rust-version %q of %s is not a version such as 1.70 or 1.70.0", formats.ErrInvalid, *m.RustVersion, m.Name)
	}
	return nil
}

// printable reports whether s is non-empty, at most n bytes, valid UTF-8
// and free of control characters.
func printable(s string, n int) bool {
	if s == "" || len(s) > n || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validFeatureName applies cargo's rules: letters, digits, '_', '-', '+'
// and '.', not starting with '-', '+' or '.'.
func validFeatureName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		case (r == '-' || r == '+' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validRustVersion accepts MAJOR.MINOR[.PATCH].
func validRustVersion(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for _, p := range parts {
		if !numeric(p) {
			return false
		}
	}
	return true
}

// indexLine writes the index line of the version as crates.io would:
// dependencies renamed in Cargo.toml carry the alias as name and the crate
// as package, dependencies sorted, features using the dep: or ?/ syntax (and
// those that enable them) moved to features2 with "v": 2, no HTML escaping.
func (m *publishMeta) indexLine(cksum string, pubtime time.Time) ([]byte, error) {
	deps := make([]lineDep, 0, len(m.Deps))
	for _, d := range m.Deps {
		ld := lineDep{
			Name: d.Name, Req: d.VersionReq, Features: nonNil(d.Features), Optional: d.Optional,
			DefaultFeatures: d.DefaultFeatures, Target: d.Target, Kind: d.Kind, Registry: d.Registry,
		}
		if d.ExplicitNameInToml != nil && *d.ExplicitNameInToml != d.Name {
			real := d.Name
			ld.Name, ld.Package = *d.ExplicitNameInToml, &real
		}
		deps = append(deps, ld)
	}
	slices.SortStableFunc(deps, compareDeps)
	features, features2 := splitFeatures(m.Features)
	l := line{
		Name: m.Name, Vers: m.Vers, Deps: deps, Cksum: cksum, Features: features,
		Links: m.Links, RustVersion: m.RustVersion, Pubtime: pubtime.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if len(features2) > 0 {
		l.Features2, l.V = features2, 2
	}
	return formats.MarshalJSON(l)
}

var kindOrder = map[string]int{"normal": 0, "build": 1, "dev": 2}

// compareDeps orders dependencies as crates.io does: by name, kind (normal,
// build, dev), requirement, optional, default features, target, package,
// features.
func compareDeps(a, b lineDep) int {
	return cmp.Or(
		strings.Compare(a.Name, b.Name),
		cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]),
		strings.Compare(a.Req, b.Req),
		compareBool(a.Optional, b.Optional),
		compareBool(a.DefaultFeatures, b.DefaultFeatures),
		compareOpt(a.Target, b.Target),
		compareOpt(a.Package, b.Package),
		slices.Compare(a.Features, b.Features),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func compareOpt(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return strings.Compare(*a, *b)
}

// splitFeatures separates the features cargo before 1.60 cannot read
// (namespaced dep: and weak ?/ syntax, and features enabling those) from
// the others, as crates.io does.
func splitFeatures(all map[string][]string) (features, features2 map[string][]string) {
	features, features2 = map[string][]string{}, map[string][]string{}
	for k, vals := range all {
		vals = nonNil(vals)
		if slices.ContainsFunc(vals, func(v string) bool { return strings.HasPrefix(v, "dep:") || strings.Contains(v, "?/") }) {
			features2[k] = vals
		} else {
			features[k] = vals
		}
	}
	for range 100 {
		moved := false
		for k, vals := range features {
			if slices.ContainsFunc(vals, func(v string) bool { _, ok := features2[v]; return ok }) {
				features2[k] = vals
				delete(features, k)
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return features, features2
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Bounds of the inspection of a .crate besides its unpacked size.
const (
	maxManifest     = 1 << 20  // the Cargo.toml read into memory
	maxCrateEntries = 100_000  // files and directories
	maxTarTail      = 64 << 10 // bytes inflated after the tar archive's end
)

// checkCrate checks a .crate: a gzip-compressed tar whose entries are
// files and directories under {name}-{version}/, without "." or ".."
// components, unpacking to at most maxUnpacked bytes, with a Cargo.toml
// that names the same crate and version as the metadata.
func checkCrate(crate io.Reader, name, vers string, maxUnpacked int64) error {
	zr, err := gzip.NewReader(crate)
	if err != nil {
		return fmt.Errorf("%w: cargo: the .crate is not gzip-compressed: %v", formats.ErrInvalid, err)
	}
	tr := tar.NewReader(zr)
	prefix := name + "-" + vers + "/"
	var total int64
	var manifest []byte
	seen := map[string]bool{}
	for {
		if len(seen) >= maxCrateEntries {
			return fmt.Errorf("%w: cargo: the .crate has more than %d entries", formats.ErrTooLarge, maxCrateEntries)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: cargo: the .crate is not a valid tar archive: %v", formats.ErrInvalid, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		rel, ok := strings.CutPrefix(hdr.Name, prefix)
		if !ok {
			if hdr.Typeflag == tar.TypeDir && hdr.Name == strings.TrimSuffix(prefix, "/") {
				continue
			}
			return fmt.Errorf("%w: cargo: entry %q of the .crate is not under %s", formats.ErrInvalid, hdr.Name, prefix)
		}
		if clean := strings.TrimSuffix(rel, "/"); clean != "" {
			if strings.HasPrefix(clean, "/") || path.Clean(clean) != clean || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(clean, "\\") {
				return fmt.Errorf("%w: cargo: entry %q of the .crate leaves its directory or is not a clean path", formats.ErrInvalid, hdr.Name)
			}
		}
		if seen[strings.TrimSuffix(hdr.Name, "/")] {
			return fmt.Errorf("%w: cargo: entry %q appears twice in the .crate", formats.ErrInvalid, hdr.Name)
		}
		seen[strings.TrimSuffix(hdr.Name, "/")] = true
		switch hdr.Typeflag {
		case tar.TypeReg, '\x00':
		case tar.TypeDir:
			continue
		default:
			return fmt.Errorf("%w: cargo: entry %q of the .crate is not a regular file or directory (type %q)", formats.ErrInvalid, hdr.Name, hdr.Typeflag)
		}
		if hdr.Size < 0 || total+hdr.Size > maxUnpacked {
			return fmt.Errorf("%w: cargo: the .crate unpacks to more than %d bytes", formats.ErrTooLarge, maxUnpacked)
		}
		total += hdr.Size
		if rel == "Cargo.toml" {
			if hdr.Size > maxManifest {
				return fmt.Errorf("%w: cargo: Cargo.toml in the .crate is larger than %d bytes", formats.ErrInvalid, maxManifest)
			}
			if manifest, err = io.ReadAll(tr); err != nil {
				return fmt.Errorf("%w: cargo: the .crate is not a valid tar archive: %v", formats.ErrInvalid, err)
			}
		}
	}
	// Read to the end so that the gzip checksum is verified; after the tar
	// archive's end only its padding to a record may follow (tar writes
	// records of 10240 bytes), not a stream that inflates without end.
	if n, err := io.Copy(io.Discard, io.LimitReader(zr, maxTarTail+1)); err != nil {
		return fmt.Errorf("%w: cargo: the .crate is not a valid gzip stream: %v", formats.ErrInvalid, err)
	} else if n > maxTarTail {
		return fmt.Errorf("%w: cargo: the .crate's gzip stream goes on after the end of its tar archive", formats.ErrInvalid)
	}
	if manifest == nil {
		return fmt.Errorf("%w: cargo: the .crate has no %sCargo.toml", formats.ErrInvalid, prefix)
	}
	mName, mVers := manifestPackage(manifest)
	if mName != name || mVers != vers {
		return fmt.Errorf("%w: cargo: Cargo.toml in the .crate declares %s %s, the metadata %s %s", formats.ErrInvalid, orUnknown(mName), orUnknown(mVers), name, vers)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// manifestPackage reads package.name and package.version from a Cargo.toml
// as cargo package writes it (a [package] table of key = "string" lines).
func manifestPackage(toml []byte) (name, version string) {
	inPackage := false
	for _, ln := range strings.Split(string(toml), "\n") {
		ln = strings.TrimSpace(strings.TrimSuffix(ln, "\r"))
		if ln == "" || ln[0] == '#' {
			continue
		}
		if ln[0] == '[' {
			header := ln
			if i := strings.IndexByte(header, ']'); i >= 0 {
				header = header[:i+1]
			}
			header = strings.ReplaceAll(header, " ", "")
			inPackage = header == "[package]" || header == "[project]"
			continue
		}
		if !inPackage {
			continue
		}
		key, val, ok := strings.Cut(ln, "=")
		if !ok {
			continue
		}
		key = strings.Trim(strings.TrimSpace(key), `"'`)
		s, ok := tomlString(strings.TrimSpace(val))
		if !ok {
			continue
		}
		switch key {
		case "name":
			name = s
		case "version":
			version = s
		}
	}
	return name, version
}

// tomlString reads a basic ("...") or literal ('...') TOML string at the
// start of v, ignoring what follows it (a comment).
func tomlString(v string) (string, bool) {
	if len(v) < 2 {
		return "", false
	}
	switch v[0] {
	case '\'':
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", false
		}
		return v[1 : 1+end], true
	case '"':
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '"':
				s, err := strconv.Unquote(v[:i+1])
				return s, err == nil
			}
		}
	}
	return "", false
}
