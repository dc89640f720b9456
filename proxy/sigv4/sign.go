package sigv4

import (
	"net/http"
	"time"
)

// Sign signs r, whose body is body, as an AWS SDK does (Signature Version
// 4, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// it sets X-Amz-Date to now, X-Amz-Content-Sha256 to the body's hash and
// Authorization, signing host, x-amz-content-sha256 and x-amz-date for
// service DefaultService in region. It is for clients of the control plane
// that are not the AWS CLI (stockpile-bench, tests); r.Host or r.URL.Host
// must be set. It returns ErrMalformed for a query string with an invalid
// percent-escape.
func Sign(r *http.Request, body []byte, keyID, secret, region string, now time.Time) error {
	return SignPayload(r, hashHex(body), keyID, secret, region, now)
}

// SignPayload is Sign for a body that is streamed, not held: payloadSHA256
// is its hex SHA-256, known beforehand (an asset whose digest its
// manifest lists), which the server checks the body against as it reads it.
func SignPayload(r *http.Request, payloadSHA256, keyID, secret, region string, now time.Time) error {
	amzDate := now.UTC().Format(amzDateFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("X-Amz-Content-Sha256", payloadSHA256)
	auth := &authorization{
		accessKeyID:   keyID,
		date:          amzDate[:8],
		region:        region,
		service:       DefaultService,
		signedHeaders: "host;x-amz-content-sha256;x-amz-date",
		headers:       []string{"host", "x-amz-content-sha256", "x-amz-date"},
	}
	canonical, err := canonicalRequest(r, auth, payloadSHA256)
	if err != nil {
		return err
	}
	sig := signature(signingKey(secret, auth.date, region, auth.service), stringToSign(amzDate, auth.scope(), canonical))
	r.Header.Set("Authorization", algorithm+" Credential="+keyID+"/"+auth.scope()+", SignedHeaders="+auth.signedHeaders+", Signature="+sig)
	return nil
}
