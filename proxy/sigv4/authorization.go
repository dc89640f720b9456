package sigv4

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	terminator = "aws4_request"
)

// authorization is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." header value.
type authorization struct {
	accessKeyID string
	date        string // yyyymmdd from the credential scope
	region      string
	service     string
	// signedHeaders is the SignedHeaders value exactly as sent; headers is
	// the same list split on ';'.
	signedHeaders string
	headers       []string
	signature     string // lower-case hex
}

// scope returns the credential scope date/region/service/aws4_request.
func (a *authorization) scope() string {
	return a.date + "/" + a.region + "/" + a.service + "/" + terminator
}

// parseAuthorization extracts the SigV4 Authorization header from h. It
// returns ErrMissing when there is no AWS4-HMAC-SHA256 Authorization header
// and ErrMalformed when there is one that cannot be parsed.
func parseAuthorization(r *http.Request) (*authorization, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		if q := r.URL.Query(); q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential") {
			return nil, fmt.Errorf("%w: presigned query authentication is not supported", ErrMissing)
		}
		return nil, fmt.Errorf("%w: no Authorization header", ErrMissing)
	}
	if len(values) > 1 {
		return nil, fmt.Errorf("%w: multiple Authorization headers", ErrMalformed)
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if scheme != algorithm {
		return nil, fmt.Errorf("%w: unsupported authorization scheme", ErrMissing)
	}

	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%w: Authorization header component %q is not a key=value pair", ErrMalformed, name)
		}
		switch name {
		case "Credential", "SignedHeaders", "Signature":
		default:
			return nil, fmt.Errorf("%w: unexpected Authorization header component %q", ErrMalformed, name)
		}
		if _, dup := fields[name]; dup {
			return nil, fmt.Errorf("%w: duplicate Authorization header component %q", ErrMalformed, name)
		}
		fields[name] = strings.TrimSpace(value)
	}
	for _, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[name] == "" {
			return nil, fmt.Errorf("%w: Authorization header requires '%s' parameter", ErrMalformed, name)
		}
	}

	a := &authorization{signedHeaders: fields["SignedHeaders"]}
	if err := a.parseCredential(fields["Credential"]); err != nil {
		return nil, err
	}
	if err := a.parseSignedHeaders(); err != nil {
		return nil, err
	}
	sig := fields["Signature"]
	if !isLowerHex(sig, 64) {
		return nil, fmt.Errorf("%w: Signature must be 64 lower-case hex digits", ErrMalformed)
	}
	a.signature = sig
	return a, nil
}

// parseCredential splits AKID/yyyymmdd/region/service/aws4_request.
func (a *authorization) parseCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return fmt.Errorf("%w: Credential should have the form <access key id>/<date>/<region>/<service>/aws4_request", ErrMalformed)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%w: Credential has an empty component", ErrMalformed)
		}
	}
	if !isDigits(parts[1], 8) {
		return fmt.Errorf("%w: Credential date %q is not yyyymmdd", ErrMalformed, parts[1])
	}
	if parts[4] != terminator {
		return fmt.Errorf("%w: Credential should be scoped with a valid terminator: 'aws4_request', not %q", ErrMalformed, parts[4])
	}
	a.accessKeyID, a.date, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// parseSignedHeaders checks SignedHeaders is a sorted, duplicate-free,
// lower-case list of header names, as every SigV4 signer produces.
func (a *authorization) parseSignedHeaders() error {
	a.headers = strings.Split(a.signedHeaders, ";")
	for i, name := range a.headers {
		if name == "" || !isHeaderName(name) {
			return fmt.Errorf("%w: SignedHeaders contains an invalid header name", ErrMalformed)
		}
		if i > 0 && a.headers[i-1] >= name {
			return fmt.Errorf("%w: SignedHeaders must be lower-case, sorted and free of duplicates", ErrMalformed)
		}
	}
	return nil
}

// signs reports whether name (lower case) is among the signed headers.
func (a *authorization) signs(name string) bool {
	return slices.Contains(a.headers, name)
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isHeaderName reports whether s is a lower-case RFC 7230 token.
func isHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
