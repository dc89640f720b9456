package proxy

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/controlplane"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/proxy/scoped"
)

// Data-plane actions, as CodeArtifact names them.
const (
	actionRead     = "codeartifact:ReadFromRepository"
	actionPublish  = "codeartifact:PublishPackageVersion"
	actionMetadata = "codeartifact:PutPackageMetadata"
	actionDelete   = "codeartifact:DeletePackageVersions"
)

// caller is who sends a data-plane request, kept in its context for the
// guard.
type caller struct {
	p *access.Principal // nil for anonymous reads

	mu        sync.Mutex
	published map[formats.Package]bool // packages this request published
}

type callerKey struct{}

func withCaller(ctx context.Context, c *caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// guard is the formats.Resolver the format handlers get when access keys are
// configured. Reads were authorised by the repository middleware (GET and
// HEAD need ReadFromRepository on the repository); guard authorises every
// write with the package it concerns, whatever handler asks for it:
//
//   - Publish: PublishPackageVersion on the package;
//   - UpdatePackage, UpdateVersion (tags, deprecations, yanks, unlistings,
//     Maven metadata): PutPackageMetadata on the package, checked only when
//     the change is about to be committed (a callback that declines to
//     change anything is a read), and not for a package the same request
//     has just published (the format completing its own publish);
//   - DeleteVersion (npm unpublish): DeletePackageVersions on the package;
//   - Upstream (requests passed through, such as npm audit):
//     ReadFromRepository on the repository, for a request's own call.
//
// A write whose context carries no caller is refused.
type guard struct {
	formats.Resolver
	s *Server
}

func (g guard) check(ctx context.Context, ref formats.RepoRef, p *formats.Package, action string) error {
	c, _ := ctx.Value(callerKey{}).(*caller)
	t := access.Target{Domain: ref.Domain, Repository: ref.Repository, Resource: g.s.arns().Repository(ref.Domain, ref.Repository)}
	if p != nil {
		t.Resource = g.s.arns().Package(ref.Domain, ref.Repository, p.Format, p.Namespace, p.Name)
	}
	if c == nil || c.p == nil {
		return &iam.Denied{Request: iam.Request{Principal: "anonymous", Action: action, Resource: t.Resource}}
	}
	if action == actionMetadata {
		c.mu.Lock()
		done := c.published[*p]
		c.mu.Unlock()
		if done {
			return nil
		}
	}
	if err := g.s.access.Authorize(ctx, c.p, action, t, action != actionRead); err != nil {
		return err
	}
	if action == actionPublish {
		c.mu.Lock()
		if c.published == nil {
			c.published = map[formats.Package]bool{}
		}
		c.published[*p] = true
		c.mu.Unlock()
	}
	return nil
}

func (g guard) Publish(ctx context.Context, ref formats.RepoRef, p formats.Package, pub formats.Publication) error {
	if err := g.check(ctx, ref, &p, actionPublish); err != nil {
		return err
	}
	return g.Resolver.Publish(ctx, ref, p, pub)
}

func (g guard) UpdatePackage(ctx context.Context, ref formats.RepoRef, p formats.Package, fn func(*formats.PackageState) error) error {
	return g.Resolver.UpdatePackage(ctx, ref, p, func(st *formats.PackageState) error {
		if err := fn(st); err != nil {
			return err
		}
		return g.check(ctx, ref, &p, actionMetadata)
	})
}

func (g guard) UpdateVersion(ctx context.Context, ref formats.RepoRef, p formats.Package, version string, fn func(*formats.Version) error) error {
	return g.Resolver.UpdateVersion(ctx, ref, p, version, func(v *formats.Version) error {
		if err := fn(v); err != nil {
			return err
		}
		return g.check(ctx, ref, &p, actionMetadata)
	})
}

func (g guard) DeleteVersion(ctx context.Context, ref formats.RepoRef, p formats.Package, version string) error {
	if err := g.check(ctx, ref, &p, actionDelete); err != nil {
		return err
	}
	return g.Resolver.DeleteVersion(ctx, ref, p, version)
}

func (g guard) Upstream(ctx context.Context, ref formats.RepoRef, format string) (formats.Getter, error) {
	// A context without a caller is the engine's or a format's own detached
	// work (an index fetch shared by the requests that wait for it), each
	// of which was authorised by the repository middleware; reads change
	// nothing, so only a request's own pass-through is checked here.
	if c, _ := ctx.Value(callerKey{}).(*caller); c != nil && c.p != nil {
		if err := g.check(ctx, ref, nil, actionRead); err != nil {
			return nil, err
		}
	}
	return g.Resolver.Upstream(ctx, ref, format)
}

// authorizeRead checks ReadFromRepository for GET and HEAD requests of the
// data plane; other methods are authorised by the guard, action by action.
func (s *Server) authorizeRead(req *http.Request, c *caller, domain, repo string) error {
	if s.access == nil || c.p == nil || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return nil
	}
	t := access.Target{Domain: domain, Repository: repo, Resource: s.arns().Repository(domain, repo)}
	return s.access.Authorize(req.Context(), c.p, actionRead, t, false)
}

func (s *Server) arns() iam.ARNs {
	return iam.ARNs{Region: controlplane.Region, Account: s.cfg.Auth.Account}
}

// scopedPrincipal is who a scoped long-lived token acts as: a principal of
// its own (user/stockpile-token/NAME) whose identity policy is its scope —
// ReadFromRepository on its repositories and, for read+publish,
// PublishPackageVersion and PutPackageMetadata on their packages. Permissions
// policies apply to it like to anyone, explicit denies included.
func (s *Server) scopedPrincipal(t *scoped.Token) *access.Principal {
	a := s.arns()
	read := iam.Statement{Sid: "Read", Effect: iam.Allow, Actions: []string{strings.ToLower(actionRead)}}
	publish := iam.Statement{Sid: "Publish", Effect: iam.Allow, Actions: []string{strings.ToLower(actionPublish), strings.ToLower(actionMetadata)}}
	for _, r := range t.Repositories {
		read.Resources = append(read.Resources, a.Repository(t.Domain, r))
		publish.Resources = append(publish.Resources, a.Package(t.Domain, r, "*", "*", "*"))
	}
	pol := &iam.Policy{Kind: iam.Identity, Version: iam.Version2012, Statements: []iam.Statement{read}}
	if t.Publish() {
		pol.Statements = append(pol.Statements, publish)
	}
	return &access.Principal{KeyID: "scoped-token/" + t.Domain + "/" + t.Name, ARN: "arn:aws:iam::" + s.cfg.Auth.Account + ":user/stockpile-token/" + t.Name, Policy: pol}
}
