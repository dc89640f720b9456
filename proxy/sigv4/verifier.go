package sigv4

import (
	"crypto/hmac"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// DefaultService is the SigV4 signing name of CodeArtifact.
const DefaultService = "codeartifact"

// DefaultMaxSkew is the clock skew AWS tolerates between the request time and
// the server clock.
const DefaultMaxSkew = 5 * time.Minute

// UnsignedPayload is the X-Amz-Content-Sha256 value with which a client opts
// out of signing the body. Verify accepts it; the body is then not covered by
// the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// amzDateFormat is ISO 8601 basic format, as used by X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// Options configures a Verifier. The zero value is usable.
type Options struct {
	// Service is the signing name the credential scope must name.
	// Default DefaultService ("codeartifact").
	Service string
	// MaxSkew is how far the request time may be from Now, either way.
	// Zero or negative means DefaultMaxSkew (5 minutes).
	MaxSkew time.Duration
	// Now returns the server time. Nil means time.Now.
	Now func() time.Time
}

// Verifier checks SigV4 signatures against a fixed set of access keys. It is
// safe for concurrent use.
type Verifier struct {
	keys    map[string]string
	service string
	maxSkew time.Duration
	now     func() time.Time
}

// NewVerifier returns a Verifier accepting the given access keys (access key
// id → secret access key). The map is copied; later changes to it are not
// seen. Zero fields of opts take their documented defaults.
func NewVerifier(keys map[string]string, opts Options) *Verifier {
	v := &Verifier{
		keys:    maps.Clone(keys),
		service: opts.Service,
		maxSkew: opts.MaxSkew,
		now:     opts.Now,
	}
	if v.keys == nil {
		v.keys = map[string]string{}
	}
	if v.service == "" {
		v.service = DefaultService
	}
	if v.maxSkew <= 0 {
		v.maxSkew = DefaultMaxSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// Verify checks the SigV4 Authorization header of r, whose body the caller
// has already read into body (r.Body is not touched), and returns the access
// key id that signed it.
//
// Checks run in this order, and the first failure is returned wrapped around
// one sentinel:
//   - no Authorization header, or not AWS4-HMAC-SHA256 (including presigned
//     URLs and SigV4a): ErrMissing;
//   - unparsable or repeated Authorization header, bad credential scope
//     syntax, unsorted SignedHeaders, signature not 64 hex digits:
//     ErrMalformed;
//   - access key id not configured: ErrUnknownKey;
//   - scope names another service, neither X-Amz-Date nor Date present or
//     parsable, scope date not the request date, host or the date header
//     not signed: ErrMalformed;
//   - request time more than MaxSkew away from Now: ErrSkew;
//   - X-Amz-Content-Sha256 is a hash that differs from the SHA-256 of body:
//     ErrSignature; neither a hash nor UNSIGNED-PAYLOAD: ErrMalformed;
//   - invalid percent-escape in the query string: ErrMalformed;
//   - signature mismatch: ErrSignature.
//
// Any region is accepted. On error the returned access key id is empty.
func (v *Verifier) Verify(r *http.Request, body []byte) (accessKeyID string, err error) {
	auth, err := parseAuthorization(r)
	if err != nil {
		return "", err
	}
	secret, ok := v.keys[auth.accessKeyID]
	if !ok {
		return "", fmt.Errorf("%w: access key id %q is not configured", ErrUnknownKey, auth.accessKeyID)
	}
	if auth.service != v.service {
		return "", fmt.Errorf("%w: Credential should be scoped to correct service: '%s'", ErrMalformed, v.service)
	}

	amzDate, when, dateHeader, err := requestTime(r.Header)
	if err != nil {
		return "", err
	}
	if auth.date != amzDate[:8] {
		return "", fmt.Errorf("%w: Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			ErrMalformed, auth.date, amzDate[:8])
	}
	if !auth.signs("host") {
		return "", fmt.Errorf("%w: 'Host' must be a 'SignedHeader' in the AWS Authorization", ErrMalformed)
	}
	if !auth.signs(dateHeader) {
		return "", fmt.Errorf("%w: '%s' must be a 'SignedHeader' in the AWS Authorization", ErrMalformed, dateHeader)
	}
	if err := v.checkSkew(when); err != nil {
		return "", err
	}

	payload, err := payloadHash(r.Header, body)
	if err != nil {
		return "", err
	}
	return v.finish(r, auth, secret, amzDate, payload)
}

// VerifyDeclared is Verify for requests whose body is too large to read
// first: the signature is checked over the X-Amz-Content-Sha256 header,
// which must be a hex SHA-256 (ErrMalformed otherwise), and that value is
// returned. The caller must refuse the body unless it hashes to it.
func (v *Verifier) VerifyDeclared(r *http.Request) (accessKeyID, payloadSHA256 string, err error) {
	decl := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256")))
	if len(decl) != 64 || strings.Trim(decl, "0123456789abcdef") != "" {
		return "", "", fmt.Errorf("%w: a streamed body needs x-amz-content-sha256 with its hex SHA-256", ErrMalformed)
	}
	auth, err := parseAuthorization(r)
	if err != nil {
		return "", "", err
	}
	secret, ok := v.keys[auth.accessKeyID]
	if !ok {
		return "", "", fmt.Errorf("%w: access key id %q is not configured", ErrUnknownKey, auth.accessKeyID)
	}
	if auth.service != v.service {
		return "", "", fmt.Errorf("%w: Credential should be scoped to correct service: '%s'", ErrMalformed, v.service)
	}
	amzDate, when, dateHeader, err := requestTime(r.Header)
	if err != nil {
		return "", "", err
	}
	if auth.date != amzDate[:8] || !auth.signs("host") || !auth.signs(dateHeader) {
		return "", "", fmt.Errorf("%w: the credential scope date or the signed headers are wrong", ErrMalformed)
	}
	if err := v.checkSkew(when); err != nil {
		return "", "", err
	}
	key, err := v.finish(r, auth, secret, amzDate, decl)
	if err != nil {
		return "", "", err
	}
	return key, decl, nil
}

// finish compares the signature of the canonical request over payload.
func (v *Verifier) finish(r *http.Request, auth *authorization, secret, amzDate, payload string) (string, error) {
	canonical, err := canonicalRequest(r, auth, payload)
	if err != nil {
		return "", err
	}
	sts := stringToSign(amzDate, auth.scope(), canonical)
	want := signature(signingKey(secret, auth.date, auth.region, auth.service), sts)
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return "", fmt.Errorf("%w: access key id %q", ErrSignature, auth.accessKeyID)
	}
	return auth.accessKeyID, nil
}

// requestTime returns the request time from X-Amz-Date or, failing that,
// Date: the ISO 8601 basic string that goes into the string to sign, the
// parsed time, and the lower-case name of the header it came from.
func requestTime(h http.Header) (amzDate string, t time.Time, header string, err error) {
	if vals := h.Values("X-Amz-Date"); len(vals) > 0 {
		if len(vals) > 1 {
			return "", time.Time{}, "", fmt.Errorf("%w: multiple X-Amz-Date headers", ErrMalformed)
		}
		t, err := time.Parse(amzDateFormat, strings.TrimSpace(vals[0]))
		if err != nil {
			return "", time.Time{}, "", fmt.Errorf("%w: X-Amz-Date %q is not in ISO 8601 basic format (yyyyMMddTHHmmssZ)", ErrMalformed, vals[0])
		}
		return t.Format(amzDateFormat), t, "x-amz-date", nil
	}
	if vals := h.Values("Date"); len(vals) > 0 {
		if len(vals) > 1 {
			return "", time.Time{}, "", fmt.Errorf("%w: multiple Date headers", ErrMalformed)
		}
		t, err := parseHTTPDate(strings.TrimSpace(vals[0]))
		if err != nil {
			return "", time.Time{}, "", fmt.Errorf("%w: Date %q is not a valid HTTP date", ErrMalformed, vals[0])
		}
		return t.UTC().Format(amzDateFormat), t, "date", nil
	}
	return "", time.Time{}, "", fmt.Errorf("%w: Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header", ErrMalformed)
}

// parseHTTPDate accepts the formats http.ParseTime does plus RFC 1123 with a
// numeric zone, which Python's email.utils.formatdate (used by botocore)
// produces ("Thu, 26 Nov 2026 10:15:30 -0000").
func parseHTTPDate(s string) (time.Time, error) {
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC1123Z, s)
}

// checkSkew returns ErrSkew when t is more than MaxSkew away from now.
func (v *Verifier) checkSkew(t time.Time) error {
	now := v.now().UTC()
	mins := v.maxSkew.String()
	if v.maxSkew%time.Minute == 0 {
		mins = fmt.Sprintf("%d min.", v.maxSkew/time.Minute)
	}
	switch {
	case t.Before(now.Add(-v.maxSkew)):
		return fmt.Errorf("%w: Signature expired: %s is now earlier than %s (%s - %s)", ErrSkew,
			t.UTC().Format(amzDateFormat), now.Add(-v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), mins)
	case t.After(now.Add(v.maxSkew)):
		return fmt.Errorf("%w: Signature not yet current: %s is still later than %s (%s + %s)", ErrSkew,
			t.UTC().Format(amzDateFormat), now.Add(v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), mins)
	}
	return nil
}

// payloadHash returns the payload hash for the canonical request: the
// X-Amz-Content-Sha256 header value as sent when present (after checking a
// hex value against body, ErrSignature on mismatch; UNSIGNED-PAYLOAD is
// accepted as is; anything else is ErrMalformed), else the hex SHA-256 of
// body.
func payloadHash(h http.Header, body []byte) (string, error) {
	vals := h.Values("X-Amz-Content-Sha256")
	if len(vals) == 0 {
		return hashHex(body), nil
	}
	if len(vals) > 1 {
		return "", fmt.Errorf("%w: multiple X-Amz-Content-Sha256 headers", ErrMalformed)
	}
	v := vals[0]
	switch {
	case v == UnsignedPayload:
		return v, nil
	case isLowerHex(strings.ToLower(v), 64):
		if strings.ToLower(v) != hashHex(body) {
			return "", fmt.Errorf("%w: x-amz-content-sha256 does not match the SHA-256 of the request body", ErrSignature)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%w: unsupported x-amz-content-sha256 value", ErrMalformed)
	}
}
