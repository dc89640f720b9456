package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBotocoreVectors verifies every signature real botocore produced (see
// testdata/gen_botocore_vectors.py), and checks our canonical request and
// string to sign against botocore's byte for byte.
func TestBotocoreVectors(t *testing.T) {
	ts, vectors := loadBotocoreVectors(t)
	for _, vec := range vectors {
		t.Run(vec.Name, func(t *testing.T) {
			r, body := vec.request(t)
			auth, err := parseAuthorization(r)
			if err != nil {
				t.Fatalf("parseAuthorization: %v", err)
			}
			payload, err := payloadHash(r.Header, body)
			if err != nil {
				t.Fatalf("payloadHash: %v", err)
			}
			canonical, err := canonicalRequest(r, auth, payload)
			if err != nil {
				t.Fatalf("canonicalRequest: %v", err)
			}
			if diff := cmp.Diff(vec.CanonicalRequest, canonical); diff != "" {
				t.Errorf("canonical request mismatch (-botocore +ours):\n%s", diff)
			}
			amzDate, _, _, err := requestTime(r.Header)
			if err != nil {
				t.Fatalf("requestTime: %v", err)
			}
			if diff := cmp.Diff(vec.StringToSign, stringToSign(amzDate, auth.scope(), canonical)); diff != "" {
				t.Errorf("string to sign mismatch (-botocore +ours):\n%s", diff)
			}

			v := NewVerifier(map[string]string{vec.AccessKeyID: vec.SecretAccessKey}, Options{Now: fixedClock(ts)})
			got, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != vec.AccessKeyID {
				t.Errorf("access key id = %q, want %q", got, vec.AccessKeyID)
			}
		})
	}
}

// TestBotocoreVectorsOverHTTP sends every botocore vector through a real
// net/http client and server, so the path, Host and Content-Length handling
// is the one a handler sees in production.
func TestBotocoreVectorsOverHTTP(t *testing.T) {
	v, vectors := botocoreVerifier(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := v.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	for _, vec := range vectors {
		t.Run(vec.Name, func(t *testing.T) {
			req, err := http.NewRequest(vec.Method, srv.URL+vec.RequestURI, bytes.NewReader(vec.body(t)))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = vec.Host
			for _, h := range vec.Headers {
				if !strings.EqualFold(h[0], "Content-Length") {
					req.Header.Add(h[0], h[1])
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			msg, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("status %d: %s", resp.StatusCode, msg)
			}
		})
	}
}

// TestBotocoreTampering alters one thing at a time in each botocore vector
// and checks Verify fails with the right sentinel.
func TestBotocoreTampering(t *testing.T) {
	ts, vectors := loadBotocoreVectors(t)
	type mutation struct {
		name string
		// apply changes the request/body/clock/keys; it reports false when
		// the mutation does not apply to this vector.
		apply func(vec botocoreVector, r **http.Request, body *[]byte, now *time.Time, keys map[string]string) bool
		want  error
	}
	mutations := []mutation{
		{
			name: "body byte flipped",
			apply: func(vec botocoreVector, r **http.Request, body *[]byte, _ *time.Time, _ map[string]string) bool {
				if len(*body) == 0 || vec.header("X-Amz-Content-Sha256") == UnsignedPayload {
					return false
				}
				b := bytes.Clone(*body)
				b[len(b)/2] ^= 0x01
				*body = b
				return true
			},
			want: ErrSignature,
		},
		{
			name: "body appended",
			apply: func(vec botocoreVector, _ **http.Request, body *[]byte, _ *time.Time, _ map[string]string) bool {
				if vec.header("X-Amz-Content-Sha256") == UnsignedPayload {
					return false
				}
				*body = append(bytes.Clone(*body), ' ')
				return true
			},
			want: ErrSignature,
		},
		{
			name: "signed header value changed",
			apply: func(vec botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				auth, err := parseAuthorization(*r)
				if err != nil {
					return false
				}
				for _, h := range auth.headers {
					switch h {
					case "host", "x-amz-date", "date", "x-amz-content-sha256":
						continue
					}
					(*r).Header.Set(h, (*r).Header.Get(h)+"x")
					return true
				}
				return false
			},
			want: ErrSignature,
		},
		{
			name: "host changed",
			apply: func(_ botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				(*r).Host = "127.0.0.1:8081"
				return true
			},
			want: ErrSignature,
		},
		{
			name: "x-amz-date moved one second",
			apply: func(vec botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				if vec.header("X-Amz-Date") == "" {
					return false
				}
				(*r).Header.Set("X-Amz-Date", ts.Add(time.Second).Format(amzDateFormat))
				return true
			},
			want: ErrSignature,
		},
		{
			name: "query value changed",
			apply: func(_ botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				if (*r).URL.RawQuery == "" {
					return false
				}
				(*r).URL.RawQuery += "x"
				return true
			},
			want: ErrSignature,
		},
		{
			name: "query parameter added",
			apply: func(_ botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				q := (*r).URL.RawQuery
				if q != "" {
					q += "&"
				}
				(*r).URL.RawQuery = q + "domain-owner=444455556666"
				return true
			},
			want: ErrSignature,
		},
		{
			name: "path changed",
			apply: func(vec botocoreVector, r **http.Request, body *[]byte, _ *time.Time, _ map[string]string) bool {
				path, query, _ := strings.Cut(vec.RequestURI, "?")
				target := path + "x"
				if strings.HasSuffix(path, "/") {
					target = path + "x/"
				}
				if query != "" {
					target += "?" + query
				}
				nr := httptest.NewRequest(vec.Method, target, bytes.NewReader(*body))
				nr.Host = (*r).Host
				nr.Header = (*r).Header
				*r = nr
				return true
			},
			want: ErrSignature,
		},
		{
			name: "method changed",
			apply: func(_ botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				if (*r).Method == http.MethodGet {
					(*r).Method = http.MethodPost
				} else {
					(*r).Method = http.MethodGet
				}
				return true
			},
			want: ErrSignature,
		},
		{
			name: "signature byte changed",
			apply: func(_ botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				a := (*r).Header.Get("Authorization")
				last := a[len(a)-1]
				repl := byte('0')
				if last == '0' {
					repl = '1'
				}
				(*r).Header.Set("Authorization", a[:len(a)-1]+string(repl))
				return true
			},
			want: ErrSignature,
		},
		{
			name: "wrong secret",
			apply: func(vec botocoreVector, _ **http.Request, _ *[]byte, _ *time.Time, keys map[string]string) bool {
				s := []byte(vec.SecretAccessKey)
				s[0] ^= 0x01
				keys[vec.AccessKeyID] = string(s)
				return true
			},
			want: ErrSignature,
		},
		{
			name: "unknown access key id",
			apply: func(vec botocoreVector, _ **http.Request, _ *[]byte, _ *time.Time, keys map[string]string) bool {
				delete(keys, vec.AccessKeyID)
				keys["AKIDSOMEONEELSE"] = vec.SecretAccessKey
				return true
			},
			want: ErrUnknownKey,
		},
		{
			name: "server clock ahead beyond skew",
			apply: func(_ botocoreVector, _ **http.Request, _ *[]byte, now *time.Time, _ map[string]string) bool {
				*now = ts.Add(DefaultMaxSkew + time.Second)
				return true
			},
			want: ErrSkew,
		},
		{
			name: "server clock behind beyond skew",
			apply: func(_ botocoreVector, _ **http.Request, _ *[]byte, now *time.Time, _ map[string]string) bool {
				*now = ts.Add(-DefaultMaxSkew - time.Second)
				return true
			},
			want: ErrSkew,
		},
		{
			name: "server clock ahead within skew",
			apply: func(_ botocoreVector, _ **http.Request, _ *[]byte, now *time.Time, _ map[string]string) bool {
				*now = ts.Add(DefaultMaxSkew)
				return true
			},
			want: nil,
		},
		{
			name: "unsigned header added",
			apply: func(_ botocoreVector, r **http.Request, _ *[]byte, _ *time.Time, _ map[string]string) bool {
				(*r).Header.Set("User-Agent", "curl/8.0")
				(*r).Header.Set("X-Forwarded-For", "10.0.0.1")
				return true
			},
			want: nil,
		},
	}

	hexRun := regexp.MustCompile(`[0-9a-fA-F]{64}`)
	for _, vec := range vectors {
		for _, m := range mutations {
			t.Run(vec.Name+"/"+m.name, func(t *testing.T) {
				r, body := vec.request(t)
				now := ts
				keys := map[string]string{vec.AccessKeyID: vec.SecretAccessKey}
				if !m.apply(vec, &r, &body, &now, keys) {
					t.Skip("mutation does not apply to this vector")
				}
				v := NewVerifier(keys, Options{Now: fixedClock(now)})
				got, err := v.Verify(r, body)
				if m.want == nil {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					return
				}
				if !errors.Is(err, m.want) {
					t.Fatalf("Verify error = %v, want %v", err, m.want)
				}
				if got != "" {
					t.Errorf("access key id = %q on error, want empty", got)
				}
				for _, secret := range keys {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q leaks the secret", err)
					}
				}
				if hexRun.MatchString(err.Error()) {
					t.Errorf("error %q contains a signature or hash", err)
				}
			})
		}
	}
}

// TestBotocoreUnsignedPayloadBodyNotCovered documents that with
// X-Amz-Content-Sha256: UNSIGNED-PAYLOAD the body is not part of the
// signature.
func TestBotocoreUnsignedPayloadBodyNotCovered(t *testing.T) {
	ts, vectors := loadBotocoreVectors(t)
	for _, vec := range vectors {
		if vec.header("X-Amz-Content-Sha256") != UnsignedPayload {
			continue
		}
		t.Run(vec.Name, func(t *testing.T) {
			r, _ := vec.request(t)
			v := NewVerifier(map[string]string{vec.AccessKeyID: vec.SecretAccessKey}, Options{Now: fixedClock(ts)})
			if _, err := v.Verify(r, []byte("something else entirely")); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// botocoreVerifier is a verifier that knows every botocore vector's key,
// at the vectors' time.
func botocoreVerifier(t *testing.T) (*Verifier, []botocoreVector) {
	t.Helper()
	ts, vectors := loadBotocoreVectors(t)
	keys := map[string]string{}
	for _, vec := range vectors {
		keys[vec.AccessKeyID] = vec.SecretAccessKey
	}
	return NewVerifier(keys, Options{Now: fixedClock(ts)}), vectors
}
