package sigv4

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func vectorNamed(t *testing.T, name string) (time.Time, botocoreVector) {
	t.Helper()
	ts, vectors := loadBotocoreVectors(t)
	for _, v := range vectors {
		if v.Name == name {
			return ts, v
		}
	}
	t.Fatalf("no botocore vector %q", name)
	return time.Time{}, botocoreVector{}
}

func TestVerifyChecks(t *testing.T) {
	ts, base := vectorNamed(t, "awsrequest/create-domain-json-body")
	_, dated := vectorNamed(t, "awsrequest/date-header")
	_, publish := vectorNamed(t, "client/publish_package_version")
	authFor := func(signed string) string {
		return "AWS4-HMAC-SHA256 Credential=" + base.AccessKeyID + "/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=" + signed + ", Signature=" + testSig
	}
	tests := []struct {
		name    string
		vec     botocoreVector
		opts    Options
		mutate  func(r *http.Request, body *[]byte)
		wantErr error
	}{
		{name: "valid", vec: base},
		{name: "valid with Date header", vec: dated},
		{name: "valid publish with asset sha256 header", vec: publish},
		{
			name:    "verifier for another service",
			vec:     base,
			opts:    Options{Service: "s3"},
			wantErr: ErrMalformed,
		},
		{
			name:    "custom skew exceeded",
			vec:     base,
			opts:    Options{MaxSkew: time.Minute, Now: fixedClock(ts.Add(61 * time.Second))},
			wantErr: ErrSkew,
		},
		{
			name:   "custom skew respected",
			vec:    base,
			opts:   Options{MaxSkew: time.Hour, Now: fixedClock(ts.Add(59 * time.Minute))},
			mutate: func(*http.Request, *[]byte) {},
		},
		{
			name:    "scope date differs from X-Amz-Date",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "20261127T101530Z") },
			wantErr: ErrMalformed,
		},
		{
			name:    "X-Amz-Date not ISO 8601 basic",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "2026-11-26T10:15:30Z") },
			wantErr: ErrMalformed,
		},
		{
			name:    "two X-Amz-Date headers",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Add("X-Amz-Date", "20261126T101530Z") },
			wantErr: ErrMalformed,
		},
		{
			name:    "no date header at all",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Del("X-Amz-Date") },
			wantErr: ErrMalformed,
		},
		{
			name:    "bad Date header",
			vec:     dated,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("Date", "yesterday") },
			wantErr: ErrMalformed,
		},
		{
			name:    "host not signed",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", authFor("content-type;x-amz-date")) },
			wantErr: ErrMalformed,
		},
		{
			name:    "x-amz-date not signed",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", authFor("content-type;host")) },
			wantErr: ErrMalformed,
		},
		{
			name:    "date not signed",
			vec:     dated,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", authFor("host")) },
			wantErr: ErrMalformed,
		},
		{
			name: "x-amz-content-sha256 does not match body",
			vec:  base,
			mutate: func(r *http.Request, _ *[]byte) {
				r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("ab", 32))
			},
			wantErr: ErrSignature,
		},
		{
			name:    "asset sha256 does not match body",
			vec:     publish,
			mutate:  func(_ *http.Request, body *[]byte) { *body = []byte("a different asset") },
			wantErr: ErrSignature,
		},
		{
			name:    "x-amz-content-sha256 garbage",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Content-Sha256", "not-a-hash") },
			wantErr: ErrMalformed,
		},
		{
			name: "x-amz-content-sha256 streaming",
			vec:  base,
			mutate: func(r *http.Request, _ *[]byte) {
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
			},
			wantErr: ErrMalformed,
		},
		{
			name:    "invalid query escape",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "domain=%zz" },
			wantErr: ErrMalformed,
		},
		{
			name:    "authorization removed",
			vec:     base,
			mutate:  func(r *http.Request, _ *[]byte) { r.Header.Del("Authorization") },
			wantErr: ErrMissing,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := tt.vec.request(t)
			if tt.mutate != nil {
				tt.mutate(r, &body)
			}
			opts := tt.opts
			if opts.Now == nil {
				opts.Now = fixedClock(ts)
			}
			v := NewVerifier(map[string]string{tt.vec.AccessKeyID: tt.vec.SecretAccessKey}, opts)
			got, err := v.Verify(r, body)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got != tt.vec.AccessKeyID {
					t.Errorf("access key id = %q, want %q", got, tt.vec.AccessKeyID)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.vec.SecretAccessKey) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestPayloadHash(t *testing.T) {
	body := []byte("hello")
	sum := hashHex(body)
	tests := []struct {
		name    string
		header  []string
		want    string
		wantErr error
	}{
		{name: "absent: hash of body", want: sum},
		{name: "matching lower-case", header: []string{sum}, want: sum},
		{name: "matching upper-case kept verbatim", header: []string{strings.ToUpper(sum)}, want: strings.ToUpper(sum)},
		{name: "unsigned payload", header: []string{UnsignedPayload}, want: UnsignedPayload},
		{name: "mismatch", header: []string{hashHex(nil)}, wantErr: ErrSignature},
		{name: "not hex", header: []string{"xyz"}, wantErr: ErrMalformed},
		{name: "twice", header: []string{sum, sum}, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.header {
				h.Add("X-Amz-Content-Sha256", v)
			}
			got, err := payloadHash(h, body)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("payloadHash = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewVerifierDefaultsAndCopy(t *testing.T) {
	keys := map[string]string{"AKID": "secret"}
	v := NewVerifier(keys, Options{})
	keys["AKID"] = "changed"
	keys["OTHER"] = "x"
	if v.service != DefaultService || v.maxSkew != DefaultMaxSkew || v.now == nil {
		t.Errorf("defaults = (%q, %v, now set %v), want (%q, %v, true)", v.service, v.maxSkew, v.now != nil, DefaultService, DefaultMaxSkew)
	}
	if v.keys["AKID"] != "secret" || len(v.keys) != 1 {
		t.Errorf("keys not copied: %v", v.keys)
	}
	if NewVerifier(nil, Options{}).keys == nil {
		t.Error("nil keys map not replaced")
	}
}

func TestClassify(t *testing.T) {
	ts, vec := vectorNamed(t, "awsrequest/describe-repository-query")
	r, _ := vec.request(t)
	v := NewVerifier(map[string]string{vec.AccessKeyID: vec.SecretAccessKey}, Options{Now: fixedClock(ts.Add(10 * time.Minute))})
	_, skewErr := v.Verify(r, nil)
	r, _ = vec.request(t)
	v = NewVerifier(map[string]string{vec.AccessKeyID: vec.SecretAccessKey}, Options{MaxSkew: 90 * time.Second, Now: fixedClock(ts.Add(-10 * time.Minute))})
	_, futureErr := v.Verify(r, nil)

	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{"missing", fmt.Errorf("%w: no Authorization header", ErrMissing), 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"unknown key", fmt.Errorf("%w: access key id %q is not configured", ErrUnknownKey, "X"), 403, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"signature", fmt.Errorf("%w: access key id %q", ErrSignature, "X"), 403, "InvalidSignatureException", msgSignature},
		{"skew", skewErr, 403, "InvalidSignatureException", "Signature expired: 20261126T101530Z is now earlier than 20261126T102030Z (20261126T102530Z - 5 min.)"},
		{"not yet current", futureErr, 403, "InvalidSignatureException", "Signature not yet current: 20261126T101530Z is still later than 20261126T100700Z (20261126T100530Z + 1m30s)"},
		{"malformed", fmt.Errorf("%w: Authorization header requires 'Signature' parameter", ErrMalformed), 403, "IncompleteSignatureException", "Authorization header requires 'Signature' parameter"},
		{"wrapped again by caller", fmt.Errorf("handler: %w", fmt.Errorf("%w: detail", ErrMalformed)), 403, "IncompleteSignatureException", "detail"},
		{"bare sentinel", ErrMalformed, 403, "IncompleteSignatureException", ErrMalformed.Error()},
		{"foreign error", errors.New("disk on fire"), 500, "InternalFailure", "Internal failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, msg := Classify(tt.err)
			if status != tt.wantStatus || code != tt.wantCode || msg != tt.wantMessage {
				t.Errorf("Classify(%v) = (%d, %q, %q), want (%d, %q, %q)", tt.err, status, code, msg, tt.wantStatus, tt.wantCode, tt.wantMessage)
			}
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v, vectors := botocoreVerifier(t)
	var wg sync.WaitGroup
	for _, vec := range vectors {
		r, body := vec.request(t)
		wg.Go(func() {
			for range 5 {
				if _, err := v.Verify(r, body); err != nil {
					t.Errorf("%s: %v", vec.Name, err)
				}
			}
		})
	}
	wg.Wait()
}
