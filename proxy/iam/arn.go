package iam

import (
	"fmt"
	"strings"
)

// ARNs builds CodeArtifact resource ARNs for one region and account, in the
// forms of the CodeArtifact user guide
// (https://docs.aws.amazon.com/codeartifact/latest/ug/auth-and-access-control-iam-access-control-identity-based.html):
//
//	arn:aws:codeartifact:REGION:ACCOUNT:domain/DOMAIN
//	arn:aws:codeartifact:REGION:ACCOUNT:repository/DOMAIN/REPOSITORY
//	arn:aws:codeartifact:REGION:ACCOUNT:package/DOMAIN/REPOSITORY/FORMAT/NAMESPACE/NAME
//	arn:aws:codeartifact:REGION:ACCOUNT:package-group/DOMAIN/PATTERN
//
// A package without a namespace leaves the NAMESPACE segment empty
// (package/acme/app/npm//lodash); an npm scope goes in without its '@'.
type ARNs struct {
	Region  string
	Account string
}

func (a ARNs) prefix() string { return "arn:aws:codeartifact:" + a.Region + ":" + a.Account + ":" }

// Domain is a domain's ARN.
func (a ARNs) Domain(domain string) string { return a.prefix() + "domain/" + domain }

// Repository is a repository's ARN.
func (a ARNs) Repository(domain, repo string) string {
	return a.prefix() + "repository/" + domain + "/" + repo
}

// Package is a package's ARN.
func (a ARNs) Package(domain, repo, format, namespace, name string) string {
	return a.prefix() + "package/" + domain + "/" + repo + "/" + format + "/" + namespace + "/" + name
}

// PackageGroup is a package group's ARN (the pattern starts with '/').
func (a ARNs) PackageGroup(domain, pattern string) string {
	return a.prefix() + "package-group/" + domain + pattern
}

// codeartifactTypes are the resource types of CodeArtifact ARNs and how many
// '/'-separated segments follow the type (0: any number, at least one).
var codeartifactTypes = map[string]int{"domain": 1, "repository": 2, "package": 5, "package-group": 0}

// validResourcePattern checks a Resource element value: "*" or an ARN of the
// form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, where '*' and '?' may
// stand for any characters. CodeArtifact ARNs without wildcards in their
// resource part must have the segments of their type.
func validResourcePattern(v string) error {
	if v == "*" {
		return nil
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return fmt.Errorf("%q is not a valid ARN (arn:aws:codeartifact:REGION:ACCOUNT:RESOURCE)", v)
	}
	partition, service, region, account, res := parts[1], parts[2], parts[3], parts[4], parts[5]
	switch {
	case partition == "" || service == "" || res == "":
		return fmt.Errorf("%q is not a valid ARN: partition, service and resource must not be empty", v)
	case strings.ContainsAny(v, " \t\r\n"):
		return fmt.Errorf("%q is not a valid ARN: it contains white space", v)
	case !wildOK(account, func(c byte) bool { return c >= '0' && c <= '9' }) || (account != "" && !strings.ContainsAny(account, "*?") && len(account) != 12):
		return fmt.Errorf("%q is not a valid ARN: account %q is not a 12-digit account id", v, account)
	case !wildOK(region, func(c byte) bool { return c == '-' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }):
		return fmt.Errorf("%q is not a valid ARN: region %q", v, region)
	}
	if service != "codeartifact" || strings.HasPrefix(res, "*") {
		return nil
	}
	typ, rest, ok := strings.Cut(res, "/")
	want, known := codeartifactTypes[typ]
	if !ok || !known {
		return fmt.Errorf("%q is not a valid CodeArtifact ARN: resource type %q is not domain, repository, package or package-group", v, typ)
	}
	if strings.Contains(rest, "*") || want == 0 {
		if rest == "" {
			return fmt.Errorf("%q is not a valid CodeArtifact ARN: %s/ names nothing", v, typ)
		}
		return nil
	}
	segs := strings.Split(rest, "/")
	if len(segs) != want {
		return fmt.Errorf("%q is not a valid CodeArtifact ARN: a %s ARN has %d segments after %s/, this has %d", v, typ, want, typ, len(segs))
	}
	for i, s := range segs {
		if s == "" && !(typ == "package" && i == 3) { // only a package's namespace may be empty
			return fmt.Errorf("%q is not a valid CodeArtifact ARN: segment %d after %s/ is empty", v, i+1, typ)
		}
	}
	return nil
}

func wildOK(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '*' && c != '?' && !ok(c) {
			return false
		}
	}
	return true
}

// Match reports whether s matches pattern, in which '*' stands for any run of
// characters (including none, and including '/' and ':') and '?' for any one
// character, as IAM matches ARNs and action names. It runs in
// O(len(pattern)·len(s)) at worst, never exponential time.
func Match(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
