package sigv4

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testSig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseAuthorization(t *testing.T) {
	good := "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + testSig
	tests := []struct {
		name    string
		target  string
		headers []string // Authorization values
		want    *authorization
		wantErr error
	}{
		{
			name:    "botocore form",
			headers: []string{good},
			want: &authorization{
				accessKeyID: "AKID", date: "20261126", region: "us-east-1", service: "codeartifact",
				signedHeaders: "content-type;host;x-amz-date", headers: []string{"content-type", "host", "x-amz-date"},
				signature: testSig,
			},
		},
		{
			name:    "no spaces after commas",
			headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/eu-west-1/codeartifact/aws4_request,SignedHeaders=host;x-amz-date,Signature=" + testSig},
			want: &authorization{
				accessKeyID: "AKID", date: "20261126", region: "eu-west-1", service: "codeartifact",
				signedHeaders: "host;x-amz-date", headers: []string{"host", "x-amz-date"},
				signature: testSig,
			},
		},
		{name: "absent", wantErr: ErrMissing},
		{name: "empty", headers: []string{""}, wantErr: ErrMissing},
		{name: "bearer", headers: []string{"Bearer abc"}, wantErr: ErrMissing},
		{name: "sigv4a", headers: []string{"AWS4-ECDSA-P256-SHA256 Credential=AKID/20261126/codeartifact/aws4_request, SignedHeaders=host, Signature=" + testSig}, wantErr: ErrMissing},
		{name: "lower-case algorithm", headers: []string{strings.ToLower(good[:16]) + good[16:]}, wantErr: ErrMissing},
		{name: "presigned query", target: "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + testSig, wantErr: ErrMissing},
		{name: "two headers", headers: []string{good, good}, wantErr: ErrMalformed},
		{name: "algorithm only", headers: []string{"AWS4-HMAC-SHA256"}, wantErr: ErrMalformed},
		{name: "missing signature", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host"}, wantErr: ErrMalformed},
		{name: "empty signed headers", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "duplicate component", headers: []string{good + ", Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "unknown component", headers: []string{good + ", Foo=bar"}, wantErr: ErrMalformed},
		{name: "component without =", headers: []string{good + ", junk"}, wantErr: ErrMalformed},
		{name: "credential too short", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/aws4_request, SignedHeaders=host, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "credential empty part", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126//codeartifact/aws4_request, SignedHeaders=host, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "credential bad date", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/2026-11-26/us-east-1/codeartifact/aws4_request, SignedHeaders=host, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "credential bad terminator", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_requests, SignedHeaders=host, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "signed headers unsorted", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "signed headers duplicate", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host;host, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "signed headers upper case", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=Host;x-amz-date, Signature=" + testSig}, wantErr: ErrMalformed},
		{name: "signature too short", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host, Signature=abc"}, wantErr: ErrMalformed},
		{name: "signature upper-case hex", headers: []string{"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(testSig)}, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/"
			}
			r := httptest.NewRequest("GET", target, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := parseAuthorization(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAuthorization: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(authorization{})); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
