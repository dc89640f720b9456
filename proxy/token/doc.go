// Package token mints and verifies the data-plane authorization tokens that
// GetAuthorizationToken hands out, and extracts them from the many ways
// package-manager clients present credentials.
//
// A token is
//
//	base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))
//
// (unpadded base64url), where payload is a small JSON object holding a format
// version, the domain, the principal, the expiry in Unix seconds and a random
// nonce. Tokens are self-contained: verifying one needs only the key, no
// database lookup. They are bearer credentials; scope checks (does the
// token's domain match the requested repository's domain?) are the caller's.
package token
