package sigv4

import (
	"errors"
	"net/http"
	"strings"
)

// Sentinel errors returned (wrapped, with detail) by Verifier.Verify. Test
// for them with errors.Is. No error message ever contains a secret access key
// or the signature the server computed.
var (
	// ErrMissing means the request carries no Authorization header, or one
	// whose scheme is not AWS4-HMAC-SHA256 (including presigned URLs and
	// SigV4a). AWS answers MissingAuthenticationTokenException.
	ErrMissing = errors.New("sigv4: missing authentication token")

	// ErrUnknownKey means the access key id in the credential scope is not
	// configured. AWS answers UnrecognizedClientException, "The security
	// token included in the request is invalid."
	ErrUnknownKey = errors.New("sigv4: unrecognized access key id")

	// ErrSignature means the signature, or the X-Amz-Content-Sha256 payload
	// hash, does not match the request. AWS answers
	// InvalidSignatureException, "The request signature we calculated does
	// not match the signature you provided. ..."
	ErrSignature = errors.New("sigv4: signature does not match")

	// ErrSkew means the request time (X-Amz-Date or Date) is further than
	// MaxSkew from the server clock. AWS answers InvalidSignatureException,
	// "Signature expired: ..." or "Signature not yet current: ...".
	ErrSkew = errors.New("sigv4: signature expired")

	// ErrMalformed means the Authorization header or a header it depends on
	// is syntactically invalid or inconsistent (bad credential scope, wrong
	// service, date mismatch, host or date header not signed, ...). AWS
	// answers IncompleteSignatureException or InvalidSignatureException.
	ErrMalformed = errors.New("sigv4: malformed authorization")
)

// AWS error messages for the sentinels that AWS reports with a fixed text.
const (
	msgMissing    = "Missing Authentication Token"
	msgUnknownKey = "The security token included in the request is invalid."
	msgSignature  = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Classify maps an error returned by Verify to the HTTP status, the AWS error
// code (the REST-JSON "__type" / X-Amzn-ErrorType value) and the message the
// real service would send, so the AWS CLI prints a familiar error. All
// authentication failures are 403. An error that wraps none of the sentinels
// yields (500, "InternalFailure", "Internal failure") rather than leaking its
// text.
func Classify(err error) (status int, code, message string) {
	switch {
	case errors.Is(err, ErrMissing):
		return http.StatusForbidden, "MissingAuthenticationTokenException", msgMissing
	case errors.Is(err, ErrUnknownKey):
		return http.StatusForbidden, "UnrecognizedClientException", msgUnknownKey
	case errors.Is(err, ErrSignature):
		return http.StatusForbidden, "InvalidSignatureException", msgSignature
	case errors.Is(err, ErrSkew):
		return http.StatusForbidden, "InvalidSignatureException", detail(err, ErrSkew)
	case errors.Is(err, ErrMalformed):
		return http.StatusForbidden, "IncompleteSignatureException", detail(err, ErrMalformed)
	default:
		return http.StatusInternalServerError, "InternalFailure", "Internal failure"
	}
}

// detail returns the text that follows sentinel in err's message, which is
// how Verify words its AWS-facing explanation ("<sentinel>: <detail>").
func detail(err, sentinel error) string {
	_, after, ok := strings.Cut(err.Error(), sentinel.Error()+": ")
	if !ok || after == "" {
		return sentinel.Error()
	}
	return after
}
