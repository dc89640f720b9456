package token

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// FromRequest extracts the token a package-manager client presented, trying
// in order:
//
//   - Authorization: Bearer <token> (npm, pnpm, yarn, Cargo with the
//     documented "Bearer " prefix);
//   - Authorization: Basic base64(<any user>:<token>) (pip, twine, Maven,
//     Gradle, NuGet, Go, Swift): the password is the token;
//   - Authorization: <token>, sent as is by Cargo: accepted only when the
//     value is a single word (no whitespace) and not a bare scheme name;
//   - X-NuGet-ApiKey: <token> (nuget push).
//
// Scheme names are case-insensitive. An Authorization header that is
// present but unusable (another scheme such as AWS4-HMAC-SHA256 or Digest,
// bad base64, no password) does not stop the X-NuGet-ApiKey fallback. It
// returns ok == false, and an empty token, when no credential is found. The
// token is not verified; pass it to Issuer.Verify.
func FromRequest(r *http.Request) (token string, ok bool) {
	if t, ok := fromAuthorization(r.Header.Get("Authorization")); ok {
		return t, true
	}
	if t := strings.TrimSpace(r.Header.Get("X-NuGet-ApiKey")); t != "" {
		return t, true
	}
	return "", false
}

// fromAuthorization parses one Authorization header value.
func fromAuthorization(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		// A single word: Cargo's raw token, unless it is a scheme with
		// its credentials missing.
		if strings.EqualFold(v, "Bearer") || strings.EqualFold(v, "Basic") {
			return "", false
		}
		return v, true
	}
	scheme, rest := v[:i], strings.TrimSpace(v[i+1:])
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return rest, rest != "" && !strings.ContainsAny(rest, " \t")
	case strings.EqualFold(scheme, "Basic"):
		return fromBasic(rest)
	default:
		return "", false
	}
}

// fromBasic returns the password of Basic credentials, tolerating missing
// base64 padding.
func fromBasic(cred string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(cred)
		if err != nil {
			return "", false
		}
	}
	_, password, ok := strings.Cut(string(raw), ":")
	if !ok || password == "" {
		return "", false
	}
	return password, true
}

// Challenge returns the WWW-Authenticate header values a 401 response should
// carry for realm: a Basic and a Bearer challenge, in that order (Maven and
// NuGet send credentials only after a Basic challenge). Add each value
// separately: for _, c := range Challenge(realm) { h.Add("WWW-Authenticate", c) }.
// Quotes and backslashes in realm are escaped.
func Challenge(realm string) []string {
	q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm) + `"`
	return []string{"Basic realm=" + q, "Bearer realm=" + q}
}
