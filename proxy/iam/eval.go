package iam

import (
	"fmt"
	"strings"
)

// Request is what is being decided: who asks for which action on which
// resource.
type Request struct {
	// Principal is the caller's ARN (arn:aws:iam::ACCOUNT:user/NAME).
	Principal string
	// Action is "service:Operation", e.g. codeartifact:ReadFromRepository.
	Action string
	// Resource is the ARN acted on, or "*" for actions on no resource
	// (ListDomains, sts:GetServiceBearerToken).
	Resource string
}

// Decision is the outcome of evaluating a request.
type Decision int

// Decisions.
const (
	// ImplicitDeny: no policy allows the request.
	ImplicitDeny Decision = iota
	// Allowed: a policy allows it and none denies it.
	Allowed
	// ExplicitDeny: a statement denies it; nothing can override that.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allow"
	case ExplicitDeny:
		return "explicit-deny"
	}
	return "implicit-deny"
}

// Evaluate decides req against the caller's identity policy and the resource
// policies that apply (nil policies are skipped): an explicit Deny in any of
// them wins; otherwise an Allow in any of them allows; otherwise the request
// is implicitly denied.
func Evaluate(req Request, identity *Policy, resource ...*Policy) Decision {
	allowed := false
	for _, p := range append([]*Policy{identity}, resource...) {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			s := &p.Statements[i]
			if !s.applies(req, p.Kind) {
				continue
			}
			if s.Effect == Deny {
				return ExplicitDeny
			}
			allowed = true
		}
	}
	if allowed {
		return Allowed
	}
	return ImplicitDeny
}

func (s *Statement) applies(req Request, kind Kind) bool {
	if kind == Resource && !principalMatches(s.Principals, req.Principal) {
		return false
	}
	if anyMatch(s.Actions, strings.ToLower(req.Action)) == s.NotAction {
		return false
	}
	if anyMatch(s.Resources, req.Resource) == s.NotResource {
		return false
	}
	for _, c := range s.Conditions {
		if !c.holds(req) {
			return false
		}
	}
	return true
}

func principalMatches(ps []string, arn string) bool {
	acct := AccountOf(arn)
	for _, p := range ps {
		if p == "*" || p == arn || (acct != "" && p == RootARN(acct)) {
			return true
		}
	}
	return false
}

// anyMatch matches "*" against everything, even a request on no resource.
func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == "*" || Match(p, s) {
			return true
		}
	}
	return false
}

func (c Condition) holds(req Request) bool {
	var v string
	switch c.Key {
	case "aws:principalarn":
		v = req.Principal
	case "aws:principalaccount":
		v = AccountOf(req.Principal)
	}
	negated := strings.Contains(c.Operator, "Not")
	match := func(want string) bool {
		switch strings.Replace(c.Operator, "Not", "", 1) {
		case "StringEquals":
			return v == want
		case "StringEqualsIgnoreCase":
			return strings.EqualFold(v, want)
		default: // StringLike, ArnEquals, ArnLike: IAM allows wildcards in both Arn operators
			return Match(want, v)
		}
	}
	for _, want := range c.Values {
		if match(want) {
			return !negated
		}
	}
	return negated
}

// Denied is the error a refused request gets. Its message names the
// principal, the action and the resource in the words AWS uses, never the
// text of a policy.
type Denied struct {
	Request
	Decision Decision
}

func (d *Denied) Error() string {
	why := "because no identity-based policy or resource-based policy allows the " + d.Action + " action"
	if d.Decision == ExplicitDeny {
		why = "with an explicit deny in a policy"
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", d.Principal, d.Action, d.Resource, why)
}
