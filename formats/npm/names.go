package npm

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Bounds on what a request may name.
const (
	maxNameLen    = 214 // npm's limit on a whole name, scope included
	maxVersionLen = 256
	maxTagLen     = 128
)

// parseName turns a package name as npm spells it ("left-pad",
// "@scope/name") into a Package. Reads accept the legacy names the public
// registry still serves (mixed case, a few punctuation characters); strict
// applies the rules for new names (publish).
func parseName(s string, strict bool) (formats.Package, error) {
	p := formats.Package{Format: "npm"}
	if s == "" {
		return p, fmt.Errorf("%w: npm: empty package name", formats.ErrInvalid)
	}
	if len(s) > maxNameLen {
		return p, fmt.Errorf("%w: npm: package name is longer than %d characters", formats.ErrInvalid, maxNameLen)
	}
	name := s
	if strings.HasPrefix(s, "@") {
		scope, rest, ok := strings.Cut(s[1:], "/")
		if !ok {
			return p, fmt.Errorf("%w: npm: scoped package name %q has no '/'", formats.ErrInvalid, formats.Clip(s))
		}
		if err := checkPart(scope, strict); err != nil {
			return p, fmt.Errorf("%w: npm: package scope %q %s", formats.ErrInvalid, formats.Clip(scope), err.Error())
		}
		p.Namespace, name = scope, rest
	}
	if err := checkPart(name, strict); err != nil {
		return p, fmt.Errorf("%w: npm: package name %q %s", formats.ErrInvalid, formats.Clip(s), err.Error())
	}
	if strict && p.Namespace == "" && (name == "node_modules" || name == "favicon.ico") {
		return p, fmt.Errorf("%w: npm: %q is a reserved package name", formats.ErrInvalid, name)
	}
	p.Name = name
	return p, nil
}

// checkPart validates a scope or an unscoped name.
func checkPart(s string, strict bool) error {
	if s == "" {
		return errorString("is empty")
	}
	if s[0] == '.' {
		return errorString("must not start with '.'")
	}
	if strict && s[0] == '_' {
		return errorString("must not start with '_'")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		case c >= 'A' && c <= 'Z' && !strict:
		case strings.IndexByte("~!*'()", c) >= 0 && !strict:
		case c >= 'A' && c <= 'Z':
			return errorString("must be lower case")
		default:
			return errorString(fmt.Sprintf("contains the character %q", c))
		}
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// displayName is the name as npm prints it.
func displayName(p formats.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	return "@" + p.Namespace + "/" + p.Name
}

// escapedName is the name as npm puts it in a URL path: "@scope%2fname".
func escapedName(p formats.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	return "@" + p.Namespace + "%2f" + p.Name
}

// tarballName is the conventional file name of a version's tarball:
// the unscoped name, a dash, the version.
func tarballName(p formats.Package, version string) string {
	return p.Name + "-" + version + ".tgz"
}

// tarballURL is where clients of the repository at base fetch a tarball.
func tarballURL(base string, p formats.Package, version string) string {
	return base + "/" + displayName(p) + "/-/" + tarballName(p, version)
}

// checkVersion validates a version as it appears in a URL or a document:
// bounded, alphanumerics and ".+-" only, starting with an alphanumeric (so
// never "." or ".." and never a path).
func checkVersion(v string) error {
	if v == "" || len(v) > maxVersionLen {
		return fmt.Errorf("%w: npm: version %q is empty or longer than %d characters", formats.ErrInvalid, formats.Clip(v), maxVersionLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte(".+-_", c) < 0) {
			return fmt.Errorf("%w: npm: version %q is not valid", formats.ErrInvalid, formats.Clip(v))
		}
	}
	return nil
}

var rangeLike = regexp.MustCompile(`^[vV=]?[0-9]|^[xX*]$|^[xX*]\.`)

// checkTag validates a dist-tag name. Like npm, it refuses names that read
// as a version or a range ("1.x", "v2"), which npm would misinterpret.
func checkTag(t string) error {
	if t == "" || len(t) > maxTagLen {
		return fmt.Errorf("%w: npm: dist-tag %q is empty or longer than %d characters", formats.ErrInvalid, formats.Clip(t), maxTagLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._", c) >= 0) {
			return fmt.Errorf("%w: npm: dist-tag %q contains the character %q", formats.ErrInvalid, formats.Clip(t), c)
		}
	}
	if rangeLike.MatchString(t) {
		return fmt.Errorf("%w: npm: dist-tag %q must not be a version or a version range", formats.ErrInvalid, t)
	}
	return nil
}

// route kinds.
type routeKind int

const (
	routeUnknown routeKind = iota
	routePackument
	routePackumentRev // /{pkg}/-rev/{rev}
	routeVersion      // /{pkg}/{version-or-tag}
	routeTarball      // /{pkg}/-/{file}
	routeTarballRev   // /{pkg}/-/{file}/-rev/{rev}
	routePing
	routeWhoami
	routeSearch
	routeKeys
	routeAudit // spec holds the upstream path
	routeDistTags
	routeDistTag // spec holds the tag
	routeUser
	routeLogin
)

// route is a parsed request path.
type route struct {
	kind routeKind
	pkg  formats.Package
	spec string // version or tag (routeVersion, routeDistTag), version (tarball), upstream path (audit)
	file string // tarball asset name
	rev  string
}

// parsePath splits the escaped path below the repository root
// ("@scope%2fname/-/name-1.0.0.tgz") into a route. Unknown shapes give
// routeUnknown; malformed names and versions give ErrInvalid.
func parsePath(escaped string) (route, error) {
	trimmed := strings.TrimPrefix(escaped, "/")
	if strings.Count(trimmed, "/") >= 16 {
		return route{}, nil
	}
	// At most 16 segments, in an array on the stack: a warm packument GET
	// splits its path without allocating.
	var buf [16]string
	segs := buf[:0]
	for rest, more := trimmed, true; more; {
		var s string
		s, rest, more = strings.Cut(rest, "/")
		u, err := url.PathUnescape(s)
		if err != nil {
			return route{}, fmt.Errorf("%w: npm: bad escape in path segment %q", formats.ErrInvalid, formats.Clip(s))
		}
		for _, c := range []byte(u) {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return route{}, fmt.Errorf("%w: npm: control character or backslash in path", formats.ErrInvalid)
			}
		}
		segs = append(segs, u)
	}
	if len(segs) == 1 && segs[0] == "" {
		return route{}, nil
	}
	if segs[0] == "-" {
		return parseSpecial(segs[1:])
	}
	// npm unpublish deletes the tarball by its URL path; older clients
	// keep the registry's own path prefix in it. The version is gone by
	// then, so any such DELETE only needs an answer.
	if n := len(segs); n >= 4 && segs[n-2] == "-rev" && strings.HasSuffix(segs[n-3], ".tgz") && containsDash(segs[:n-3]) {
		r := route{kind: routeTarballRev, rev: segs[n-1]}
		return r, nil
	}
	p, n, err := pkgFromSegs(segs)
	if err != nil {
		return route{}, err
	}
	r := route{pkg: p}
	rest := segs[n:]
	switch {
	case len(rest) == 0:
		r.kind = routePackument
	case len(rest) == 2 && rest[0] == "-rev":
		r.kind, r.rev = routePackumentRev, rest[1]
	case len(rest) >= 2 && rest[0] == "-":
		file := strings.Join(rest[1:], "/")
		ver, err := versionFromFile(p, file)
		if err != nil {
			return route{}, err
		}
		r.kind, r.spec, r.file = routeTarball, ver, tarballName(p, ver)
	case len(rest) == 1 && rest[0] != "" && rest[0] != "-":
		r.kind, r.spec = routeVersion, rest[0]
	}
	return r, nil
}

func containsDash(segs []string) bool {
	for _, s := range segs {
		if s == "-" {
			return true
		}
	}
	return false
}

// pkgFromSegs reads a package name from the first segments: "name",
// "@scope/name" (one segment once unescaped) or "@scope", "name".
func pkgFromSegs(segs []string) (formats.Package, int, error) {
	s, n := segs[0], 1
	if strings.HasPrefix(s, "@") && !strings.Contains(s, "/") {
		if len(segs) < 2 {
			return formats.Package{}, 0, fmt.Errorf("%w: npm: scoped package name %q has no '/'", formats.ErrInvalid, formats.Clip(s))
		}
		s, n = s+"/"+segs[1], 2
	}
	if !strings.HasPrefix(s, "@") && strings.Contains(s, "/") {
		return formats.Package{}, 0, fmt.Errorf("%w: npm: package name %q contains '/'", formats.ErrInvalid, formats.Clip(s))
	}
	p, err := parseName(s, false)
	return p, n, err
}

// versionFromFile reads the version out of a tarball file name,
// "{name}-{version}.tgz", also accepting the full scoped name as prefix
// ("@scope/name-1.0.0.tgz", as some registries write it).
func versionFromFile(p formats.Package, file string) (string, error) {
	base, ok := strings.CutSuffix(file, ".tgz")
	if ok {
		full := displayName(p) + "-"
		switch {
		case p.Namespace != "" && strings.HasPrefix(base, full):
			base = base[len(full):]
		case strings.HasPrefix(base, p.Name+"-"):
			base = base[len(p.Name)+1:]
		default:
			ok = false
		}
	}
	if !ok {
		return "", fmt.Errorf("%w: npm: tarball %q is not named %s", formats.ErrNotFound, formats.Clip(file), tarballName(p, "{version}"))
	}
	if err := checkVersion(base); err != nil {
		return "", err
	}
	return base, nil
}

// parseSpecial parses the paths below "/-/".
func parseSpecial(s []string) (route, error) {
	is := func(want ...string) bool {
		if len(s) != len(want) {
			return false
		}
		for i := range want {
			if s[i] != want[i] {
				return false
			}
		}
		return true
	}
	switch {
	case is("ping"):
		return route{kind: routePing}, nil
	case is("whoami"):
		return route{kind: routeWhoami}, nil
	case is("v1", "search"):
		return route{kind: routeSearch}, nil
	case is("npm", "v1", "keys"):
		return route{kind: routeKeys}, nil
	case is("npm", "v1", "security", "advisories", "bulk"),
		is("npm", "v1", "security", "audits", "quick"),
		is("npm", "v1", "security", "audits"):
		return route{kind: routeAudit, spec: "-/" + strings.Join(s, "/")}, nil
	case is("v1", "login"):
		return route{kind: routeLogin}, nil
	case len(s) >= 2 && s[0] == "user" && strings.HasPrefix(s[1], "org.couchdb.user:"):
		return route{kind: routeUser}, nil
	case len(s) >= 3 && s[0] == "package":
		p, n, err := pkgFromSegs(s[1:])
		if err != nil {
			return route{}, err
		}
		rest := s[1+n:]
		switch {
		case len(rest) == 1 && rest[0] == "dist-tags":
			return route{kind: routeDistTags, pkg: p}, nil
		case len(rest) == 2 && rest[0] == "dist-tags":
			return route{kind: routeDistTag, pkg: p, spec: rest[1]}, nil
		}
	}
	return route{}, nil
}

// CheckName implements formats.NameChecker with the rules for the names npm
// reads, legacy names included: the scope (the namespace, without '@') and
// the name each as checkPart allows, at most maxNameLen in all.
func (f *Format) CheckName(p formats.Package) error {
	full := p.Name
	if p.Namespace != "" {
		if err := checkPart(p.Namespace, false); err != nil {
			return fmt.Errorf("%w: npm: package scope %q %s", formats.ErrInvalid, formats.Clip(p.Namespace), err.Error())
		}
		full = "@" + p.Namespace + "/" + p.Name
	}
	if err := checkPart(p.Name, false); err != nil {
		return fmt.Errorf("%w: npm: package name %q %s", formats.ErrInvalid, formats.Clip(p.Name), err.Error())
	}
	if len(full) > maxNameLen {
		return fmt.Errorf("%w: npm: package name is longer than %d characters", formats.ErrInvalid, maxNameLen)
	}
	return nil
}
