package model

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is a parsed package group pattern. The syntax follows package
// paths, /format/namespace/name, ended by a terminator:
//
//	/*                         every package
//	/npm/*                     every package of a format
//	/maven/com.anycompany~     namespaces starting with a prefix
//	/npm/space/*               every package of a namespace
//	/npm/space/anycompany-ui~  names starting with a prefix, in a namespace
//	/maven/org.apache/core$    exactly one package
//
// Formats without namespaces use an empty namespace: /pypi//requests$.
type Pattern struct {
	Raw       string
	Format    string // "" for /*
	Namespace string
	Name      string
	kind      patternKind
}

type patternKind int

// Pattern kinds, from the least to the most specific.
const (
	kindAll patternKind = iota + 1
	kindFormat
	kindNamespacePrefix
	kindNamespace
	kindNamePrefix
	kindExact
)

var patternFormats = map[string]string{
	"npm": "npm", "pypi": "pypi", "python": "pypi", "maven": "maven", "nuget": "nuget",
	"generic": "generic", "ruby": "ruby", "swift": "swift", "cargo": "cargo",
}

var patternChars = regexp.MustCompile(`^[^\p{C}\s]{2,520}$`)

// ParsePattern parses a package group pattern; ErrInvalid when malformed.
func ParsePattern(raw string) (Pattern, error) {
	bad := func(why string) (Pattern, error) {
		return Pattern{}, invalid(fmt.Sprintf("package group pattern %q is invalid: %s", raw, why))
	}
	if !patternChars.MatchString(raw) || !strings.HasPrefix(raw, "/") {
		return bad("it must start with '/', have 2 to 520 characters and no white space or control characters")
	}
	if raw == "/*" {
		return Pattern{Raw: raw, kind: kindAll}, nil
	}
	parts := strings.Split(raw[1:], "/")
	format, ok := patternFormats[parts[0]]
	if !ok {
		return bad("the format must be one of npm, pypi, maven, nuget, generic, ruby, swift, cargo")
	}
	p := Pattern{Raw: raw, Format: format}
	switch len(parts) {
	case 2:
		switch last := parts[1]; {
		case last == "*":
			p.kind = kindFormat
		case strings.HasSuffix(last, "~") && len(last) > 1:
			p.kind, p.Namespace = kindNamespacePrefix, strings.TrimSuffix(last, "~")
		default:
			return bad("after the format comes '*' or a namespace prefix ending in '~'")
		}
	case 3:
		p.Namespace = parts[1]
		switch last := parts[2]; {
		case last == "*":
			p.kind = kindNamespace
		case strings.HasSuffix(last, "~") && len(last) > 1:
			p.kind, p.Name = kindNamePrefix, strings.TrimSuffix(last, "~")
		case strings.HasSuffix(last, "$") && len(last) > 1:
			p.kind, p.Name = kindExact, strings.TrimSuffix(last, "$")
		default:
			return bad("a name must end in '$' (exact) or '~' (prefix), or be '*'")
		}
		if strings.ContainsAny(p.Namespace, "*~$") || strings.ContainsAny(p.Name, "*~$") {
			return bad("'*', '~' and '$' only end a pattern")
		}
	default:
		return bad("a pattern has at most three components: format, namespace and name")
	}
	return p, nil
}

// Matches reports whether the package (format, namespace, name) matches.
func (p Pattern) Matches(format, namespace, name string) bool {
	switch p.kind {
	case kindAll:
		return true
	case kindFormat:
		return p.Format == format
	case kindNamespacePrefix:
		return p.Format == format && strings.HasPrefix(namespace, p.Namespace)
	case kindNamespace:
		return p.Format == format && p.Namespace == namespace
	case kindNamePrefix:
		return p.Format == format && p.Namespace == namespace && strings.HasPrefix(name, p.Name)
	case kindExact:
		return p.Format == format && p.Namespace == namespace && p.Name == name
	}
	return false
}

// weakly reports whether the package matches once case, runs of '-', '.'
// and '_', are ignored: a package that matches its most specific group only
// this way is a likely typo-squat of the group's names.
func (p Pattern) weakly(format, namespace, name string) bool {
	q := Pattern{Raw: p.Raw, Format: p.Format, Namespace: weakForm(p.Namespace), Name: weakForm(p.Name), kind: p.kind}
	return q.Matches(format, weakForm(namespace), weakForm(name))
}

var separators = regexp.MustCompile(`[-._]+`)

func weakForm(s string) string { return separators.ReplaceAllString(strings.ToLower(s), "-") }

// specificity orders patterns: a higher value is more specific.
func (p Pattern) specificity() int {
	return int(p.kind)*10000 + len(p.Namespace) + len(p.Name)
}

// contains reports whether every package q matches also matches p.
func (p Pattern) contains(q Pattern) bool {
	if p.kind == kindAll {
		return true
	}
	if q.kind == kindAll || p.Format != q.Format {
		return false
	}
	switch p.kind {
	case kindFormat:
		return true
	case kindNamespacePrefix:
		return q.kind >= kindNamespacePrefix && strings.HasPrefix(q.Namespace, p.Namespace)
	case kindNamespace:
		return q.kind >= kindNamespace && q.Namespace == p.Namespace
	case kindNamePrefix:
		return q.kind >= kindNamePrefix && q.Namespace == p.Namespace && strings.HasPrefix(q.Name, p.Name)
	case kindExact:
		return q.kind == kindExact && q.Namespace == p.Namespace && q.Name == p.Name
	}
	return false
}
