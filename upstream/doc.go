// Package upstream is Stockpile's side of CodeArtifact's external
// connections: the catalog of the ten public registries a repository can be
// connected to, their per-connection settings, and an HTTP client per
// connection that retries, limits concurrency, follows redirects without
// leaking credentials, and turns every failure into one of a few typed errors
// (ErrNotFound, ErrUnauthorized, ErrUnavailable, ErrTimeout, ErrNotConfigured).
//
// The package caches nothing: freshness settings (TTL, NegativeTTL) are
// carried in Options for the engine that does.
package upstream
