// Package access decides who may do what: it holds the principals of the
// configured access keys with their identity policies, finds the resource
// policy that applies to an action (the domain's for domain actions and
// token issuance, the repository's for repository and package actions),
// evaluates them with package iam, and writes the audit trail: one
// structured line for every allowed write and every denial.
package access

import (
	"context"
	"log/slog"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/iam"
)

// Principal is who an access key acts as.
type Principal struct {
	KeyID string
	ARN   string
	// Policy is the identity policy; nil means no identity policy (the
	// principal is allowed only what resource policies grant it).
	Policy *iam.Policy
	// NotBefore refuses data-plane tokens of the key minted before it.
	NotBefore time.Time
}

// Policies finds the resource policies in force now: the permissions policy
// of a domain (repo empty) or of a repository, nil when it has none.
type Policies interface {
	ResourcePolicy(domain, repo string) *iam.Policy
}

// Target is what an action acts on.
type Target struct {
	Domain     string
	Repository string // empty for domain actions
	// Resource is the ARN of the resource, "*" for none.
	Resource string
	// SkipResourcePolicy evaluates the identity policy only: for
	// Put*PermissionsPolicy (the policy being replaced does not decide,
	// so an owner cannot lock itself out) and for actions of other
	// services (sts:GetServiceBearerToken).
	SkipResourcePolicy bool
}

// Options configure an Authorizer.
type Options struct {
	Log *slog.Logger
	// Denied is called with the action of every denial (for metrics).
	Denied func(action string)
}

// Authorizer decides requests. It is safe for concurrent use.
type Authorizer struct {
	keys     map[string]*Principal
	policies Policies
	log      *slog.Logger
	denied   func(string)
}

// New returns an Authorizer for the given principals (by key id) and
// resource policies.
func New(principals []Principal, policies Policies, o Options) *Authorizer {
	a := &Authorizer{keys: map[string]*Principal{}, policies: policies, log: o.Log, denied: o.Denied}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.denied == nil {
		a.denied = func(string) {}
	}
	for i := range principals {
		p := principals[i]
		a.keys[p.KeyID] = &p
	}
	return a
}

// Key returns the principal of an access key, or false when no such key is
// configured.
func (a *Authorizer) Key(id string) (*Principal, bool) {
	p, ok := a.keys[id]
	return p, ok
}

// Authorize decides whether p may perform action ("codeartifact:Name") on t.
// It returns nil when allowed, and an *iam.Denied otherwise. Every denial,
// and every allowed action for which write is true, is logged as one line
// with the principal, action, resource and outcome.
func (a *Authorizer) Authorize(ctx context.Context, p *Principal, action string, t Target, write bool) error {
	req := iam.Request{Principal: p.ARN, Action: action, Resource: t.Resource}
	var res *iam.Policy
	switch {
	case t.SkipResourcePolicy:
	case t.Domain != "":
		res = a.policies.ResourcePolicy(t.Domain, t.Repository)
	}
	d := iam.Evaluate(req, p.Policy, res)
	if d == iam.Allowed {
		if write {
			a.audit(ctx, slog.LevelInfo, p, action, t.Resource, d)
		}
		return nil
	}
	a.audit(ctx, slog.LevelWarn, p, action, t.Resource, d)
	a.denied(action)
	return &iam.Denied{Request: req, Decision: d}
}

// Allowed reports whether p may perform action on t, deciding exactly as
// Authorize does but quietly: no audit line and no denial counted. It is
// for questions about what to offer (which repositories a page lists,
// which buttons it shows), not for attempts.
func (a *Authorizer) Allowed(p *Principal, action string, t Target) bool {
	req := iam.Request{Principal: p.ARN, Action: action, Resource: t.Resource}
	var res *iam.Policy
	if !t.SkipResourcePolicy && t.Domain != "" {
		res = a.policies.ResourcePolicy(t.Domain, t.Repository)
	}
	return iam.Evaluate(req, p.Policy, res) == iam.Allowed
}

func (a *Authorizer) audit(ctx context.Context, level slog.Level, p *Principal, action, resource string, d iam.Decision) {
	a.log.LogAttrs(ctx, level, "audit",
		slog.String("principal", p.ARN), slog.String("key", p.KeyID),
		slog.String("action", action), slog.String("resource", resource),
		slog.String("outcome", d.String()))
}
