package sigv4

import (
	"net/http"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary signature headers and bodies to the verifier:
// it must never panic and never accept what it did not sign.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261126T000000Z", "", []byte("{}"))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261126//codeartifact/aws4_request,SignedHeaders=,Signature=", "garbage", "UNSIGNED-PAYLOAD", []byte(nil))
	f.Add("Bearer x", "", "zz", []byte("x"))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host;x-amz-date;x-amz-date, Signature=abc", "20261126T000000Z", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", []byte(""))
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	v := NewVerifier(map[string]string{"AKID": "secret"}, Options{Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, auth, date, payload string, body []byte) {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/v1/domain?domain=acme", nil)
		if err != nil {
			t.Skip()
		}
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		if payload != "" {
			r.Header.Set("X-Amz-Content-Sha256", payload)
		}
		if key, err := v.Verify(r, body); err == nil {
			t.Fatalf("an unsigned request verified as %q", key)
		}
		if key, _, err := v.VerifyDeclared(r); err == nil {
			t.Fatalf("an unsigned streamed request verified as %q", key)
		}
	})
}
