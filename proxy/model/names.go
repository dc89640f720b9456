package model

import (
	"fmt"
	"regexp"
)

var (
	domainName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)
	repoName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$`)
)

// Limits from CodeArtifact's quotas that are not adjustable.
const (
	MaxUpstreams   = 10 // direct upstreams of one repository
	MaxWalk        = 25 // repositories visited by one resolution
	maxDescription = 1000
)

// ValidateDomainName reports whether name is a valid domain name. "v1" is
// reserved for the control plane's URL space.
func ValidateDomainName(name string) error {
	if !domainName.MatchString(name) {
		return invalid(fmt.Sprintf("domain name %q is invalid: it must match [a-z][a-z0-9-]{0,48}[a-z0-9]", name))
	}
	if name == "v1" {
		return invalid(`domain name "v1" is reserved`)
	}
	return nil
}

// ValidateRepositoryName reports whether name is a valid repository name.
func ValidateRepositoryName(name string) error {
	if !repoName.MatchString(name) {
		return invalid(fmt.Sprintf("repository name %q is invalid: it must match [A-Za-z0-9][A-Za-z0-9._-]{1,99}", name))
	}
	return nil
}

// ValidateDescription bounds a description and refuses control characters.
func ValidateDescription(d string) error {
	if len(d) > maxDescription {
		return invalid(fmt.Sprintf("description is longer than %d characters", maxDescription))
	}
	for _, r := range d {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return invalid("description contains a control character")
		}
	}
	return nil
}
