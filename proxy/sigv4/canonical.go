package sigv4

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// wirePath returns the request path exactly as the client sent it, still
// percent-encoded. That is what the client signed: for a server request the
// origin-form RequestURI (unaffected by http.StripPrefix and the like),
// otherwise r.URL.EscapedPath().
func wirePath(r *http.Request) string {
	if uri := r.RequestURI; strings.HasPrefix(uri, "/") {
		path, _, _ := strings.Cut(uri, "?")
		return path
	}
	if uri := r.RequestURI; uri != "" && uri != "*" {
		if u, err := url.ParseRequestURI(uri); err == nil {
			return u.EscapedPath()
		}
	}
	return r.URL.EscapedPath()
}

// canonicalURI returns the SigV4 canonical URI of an already percent-encoded
// path, as AWS computes it for every service except S3 (and as botocore's
// SigV4Auth does): dot segments and empty segments are removed, then the
// path is percent-encoded once more, leaving only RFC 3986 unreserved
// characters and '/' as they are. "/a%3Ab" therefore becomes "/a%253Ab".
func canonicalURI(escapedPath string) string {
	return uriEncode(removeDotSegments(escapedPath), true)
}

// removeDotSegments applies RFC 3986 section 5.2.4 and also drops empty
// segments ("//"), keeping a trailing slash, exactly like botocore's
// normalize_url_path.
func removeDotSegments(path string) string {
	if path == "" {
		return "/"
	}
	var out []string
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if path[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if path[len(path)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// canonicalQuery returns the SigV4 canonical query string of a raw query:
// every key and value is decoded and re-encoded with the RFC 3986 unreserved
// set, pairs are sorted by encoded key then encoded value, and '=' is always
// present. A '+' is decoded as a space (form encoding), as AWS SDKs do.
// It returns ErrMalformed for an invalid percent-escape.
func canonicalQuery(raw string) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	for piece := range strings.SplitSeq(raw, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", fmt.Errorf("%w: invalid query string: %w", ErrMalformed, err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", fmt.Errorf("%w: invalid query string: %w", ErrMalformed, err)
		}
		pairs = append(pairs, pair{uriEncode(dk, false), uriEncode(dv, false)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.k, b.k), strings.Compare(a.v, b.v))
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// canonicalHeaders returns the canonical headers block (each "name:value\n")
// for the signed header names, which must be lower case and sorted. host is
// taken from r.Host; a signed content-length that net/http moved out of
// r.Header is taken from r.ContentLength. Several values of one header are
// joined with ','; each value is trimmed and its internal whitespace runs
// collapsed to one space. A signed header absent from the request
// contributes an empty value (and so fails the signature comparison).
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var values []string
		switch name {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			values = []string{host}
		default:
			values = r.Header.Values(name)
			if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalRequest builds the SigV4 canonical request of r for the parsed
// Authorization header auth and the payload hash to sign. It returns
// ErrMalformed when the query string has an invalid percent-escape.
func canonicalRequest(r *http.Request, auth *authorization, payloadHash string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	return strings.Join([]string{
		r.Method,
		canonicalURI(wirePath(r)),
		query,
		canonicalHeaders(r, auth.headers),
		auth.signedHeaders,
		payloadHash,
	}, "\n"), nil
}

// uriEncode percent-encodes every byte of s except the RFC 3986 unreserved
// characters (A-Z a-z 0-9 - . _ ~) and, if keepSlash, '/'. Hex digits are
// upper case.
func uriEncode(s string, keepSlash bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || keepSlash && c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
