package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned (wrapped) by Issuer.Verify; test with errors.Is.
var (
	// ErrInvalid means the token is malformed, too long, not signed by this
	// issuer's key, or carries an unsupported payload.
	ErrInvalid = errors.New("token: invalid authorization token")
	// ErrExpired means the token is authentic but its expiry has passed.
	ErrExpired = errors.New("token: authorization token expired")
)

const (
	// MinKeyLen is the minimum HMAC key length NewIssuer accepts.
	MinKeyLen = 32
	// MaxTokenLen bounds the length of a token Verify will look at.
	MaxTokenLen = 4096

	version  = 1
	nonceLen = 16
)

// Claims are the verified contents of a token.
type Claims struct {
	// Domain is the CodeArtifact domain the token is scoped to.
	Domain string
	// Principal identifies who the token was minted for (for example the
	// access key id that called GetAuthorizationToken).
	Principal string
	// KeyID is the access key that minted the token, when known.
	KeyID string
	// Issued is when the token was minted (whole seconds, UTC).
	Issued time.Time
	// Expires is the instant (whole seconds, UTC) from which the token is
	// no longer accepted.
	Expires time.Time
}

// payload is the JSON signed inside a token.
type payload struct {
	V int    `json:"v"`
	D string `json:"d"`
	P string `json:"p"`
	E int64  `json:"e"`
	I int64  `json:"i,omitempty"`
	K string `json:"k,omitempty"`
	N string `json:"n"`
}

// Issuer mints and verifies tokens with one HMAC key. It is safe for
// concurrent use.
type Issuer struct {
	key []byte
	now func() time.Time
}

// NewIssuer returns an Issuer signing with key, which must be at least
// MinKeyLen (32) bytes and is copied. now supplies the clock; nil means
// time.Now. It returns an error, and no Issuer, for a short key.
func NewIssuer(key []byte, now func() time.Time) (*Issuer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("token: key is %d bytes, need at least %d", len(key), MinKeyLen)
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{key: append([]byte(nil), key...), now: now}, nil
}

// Mint returns a token for principal scoped to domain, valid for ttl from
// now, and its expiry. The expiry is truncated to whole seconds, so the
// effective lifetime may be up to a second shorter than ttl; a ttl below one
// second yields a token that is already expired. Every call yields a
// different token (random nonce). The caller bounds ttl (CodeArtifact allows
// 15 minutes to 12 hours) and validates domain and principal; a token minted
// for an empty domain never verifies.
func (i *Issuer) Mint(domain, principal string, ttl time.Duration) (token string, expires time.Time) {
	return i.MintKey(domain, "", principal, ttl)
}

// MintKey is Mint for a token that also names the access key it was minted
// with, so that removing the key revokes it.
func (i *Issuer) MintKey(domain, keyID, principal string, ttl time.Duration) (token string, expires time.Time) {
	now := i.now()
	expires = time.Unix(now.Add(ttl).Unix(), 0).UTC()
	nonce := make([]byte, nonceLen)
	rand.Read(nonce) // never returns an error; crashes the program if the OS RNG fails
	raw, err := json.Marshal(payload{V: version, D: domain, P: principal, E: expires.Unix(), I: now.Unix(), K: keyID, N: b64().EncodeToString(nonce)})
	if err != nil {
		// Unreachable: the payload consists of strings and integers only.
		panic(fmt.Sprintf("token: marshal payload: %v", err))
	}
	body := b64().EncodeToString(raw)
	return body + "." + b64().EncodeToString(i.sign(body)), expires
}

// Verify checks token's signature and expiry and returns its claims. It
// returns an error wrapping ErrInvalid for anything malformed, longer than
// MaxTokenLen, signed with another key or tampered with, and one wrapping
// ErrExpired for an authentic token whose expiry is at or before now. The
// signature is checked (in constant time) before the payload is parsed.
func (i *Issuer) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxTokenLen)
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok || body == "" || strings.Contains(sig, ".") {
		return Claims{}, fmt.Errorf("%w: not of the form payload.signature", ErrInvalid)
	}
	gotSig, err := b64().DecodeString(sig)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature encoding: %w", ErrInvalid, err)
	}
	if !hmac.Equal(gotSig, i.sign(body)) {
		return Claims{}, fmt.Errorf("%w: bad signature", ErrInvalid)
	}
	raw, err := b64().DecodeString(body)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload encoding: %w", ErrInvalid, err)
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %w", ErrInvalid, err)
	}
	if p.V != version {
		return Claims{}, fmt.Errorf("%w: unsupported version %d", ErrInvalid, p.V)
	}
	if p.D == "" {
		return Claims{}, fmt.Errorf("%w: no domain", ErrInvalid)
	}
	c := Claims{Domain: p.D, Principal: p.P, KeyID: p.K, Issued: time.Unix(p.I, 0).UTC(), Expires: time.Unix(p.E, 0).UTC()}
	if !i.now().Before(c.Expires) {
		return Claims{}, fmt.Errorf("%w: at %s", ErrExpired, c.Expires.Format(time.RFC3339))
	}
	return c, nil
}

// b64 is unpadded base64url that rejects non-canonical encodings, so a
// signature has exactly one accepted spelling.
func b64() *base64.Encoding { return base64.RawURLEncoding.Strict() }

func (i *Issuer) sign(body string) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}
