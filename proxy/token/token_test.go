package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testKey = bytes.Repeat([]byte("k"), MinKeyLen)

func newTestIssuer(t *testing.T, key []byte, now time.Time) *Issuer {
	t.Helper()
	i, err := NewIssuer(key, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestNewIssuer(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr bool
	}{
		{"nil key", nil, true},
		{"31 bytes", bytes.Repeat([]byte("k"), 31), true},
		{"32 bytes", bytes.Repeat([]byte("k"), 32), false},
		{"64 bytes", bytes.Repeat([]byte("k"), 64), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, err := NewIssuer(tt.key, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && i.now == nil {
				t.Error("nil now not defaulted")
			}
		})
	}
}

func TestNewIssuerCopiesKey(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	key := bytes.Clone(testKey)
	i := newTestIssuer(t, key, now)
	tok, _ := i.Mint("acme", "AKID", time.Hour)
	key[0] ^= 1
	if _, err := i.Verify(tok); err != nil {
		t.Fatalf("Verify after caller changed its key slice: %v", err)
	}
}

func TestMintVerify(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 500_000_000, time.UTC)
	issued := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		domain    string
		principal string
		ttl       time.Duration
		verifyAt  time.Time
		want      Claims
		wantErr   error
	}{
		{
			name: "round trip", domain: "acme", principal: "AKIDEXAMPLE", ttl: 12 * time.Hour, verifyAt: now,
			want: Claims{Issued: issued, Domain: "acme", Principal: "AKIDEXAMPLE", Expires: time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)},
		},
		{
			name: "unicode and punctuation survive", domain: "my-domain", principal: `arn:aws:iam::111122223333:user/"Zoë"`, ttl: time.Hour, verifyAt: now,
			want: Claims{Issued: issued, Domain: "my-domain", Principal: `arn:aws:iam::111122223333:user/"Zoë"`, Expires: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)},
		},
		{
			name: "empty principal allowed", domain: "acme", ttl: time.Hour, verifyAt: now,
			want: Claims{Issued: issued, Domain: "acme", Expires: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)},
		},
		{
			name: "one second before expiry", domain: "acme", principal: "p", ttl: time.Hour, verifyAt: now.Add(time.Hour - 2*time.Second),
			want: Claims{Issued: issued, Domain: "acme", Principal: "p", Expires: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)},
		},
		{name: "at expiry", domain: "acme", principal: "p", ttl: time.Hour, verifyAt: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), wantErr: ErrExpired},
		{name: "after expiry", domain: "acme", principal: "p", ttl: time.Hour, verifyAt: now.Add(2 * time.Hour), wantErr: ErrExpired},
		{name: "zero ttl is already expired", domain: "acme", principal: "p", ttl: 0, verifyAt: now, wantErr: ErrExpired},
		{name: "negative ttl", domain: "acme", principal: "p", ttl: -time.Minute, verifyAt: now, wantErr: ErrExpired},
		{name: "empty domain never verifies", domain: "", principal: "p", ttl: time.Hour, verifyAt: now, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, exp := newTestIssuer(t, testKey, now).Mint(tt.domain, tt.principal, tt.ttl)
			if want := time.Unix(now.Add(tt.ttl).Unix(), 0).UTC(); !exp.Equal(want) {
				t.Errorf("Mint expires = %v, want %v", exp, want)
			}
			if len(tok) > MaxTokenLen {
				t.Errorf("token length %d > %d", len(tok), MaxTokenLen)
			}
			got, err := newTestIssuer(t, testKey, tt.verifyAt).Verify(tok)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(Claims{}, got); diff != "" {
					t.Errorf("claims on error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("claims mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("key id round trip", func(t *testing.T) {
		i := newTestIssuer(t, testKey, now)
		tok, _ := i.MintKey("acme", "AKIDEXAMPLE", "arn:aws:iam::111122223333:user/ci", time.Hour)
		got, err := i.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		want := Claims{Domain: "acme", KeyID: "AKIDEXAMPLE", Principal: "arn:aws:iam::111122223333:user/ci", Issued: issued, Expires: issued.Add(time.Hour)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("claims mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestMintIsUniqueAndURLSafe(t *testing.T) {
	i := newTestIssuer(t, testKey, time.Now())
	seen := map[string]bool{}
	for range 100 {
		tok, _ := i.Mint("acme", "p", time.Hour)
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
		if strings.ContainsAny(tok, "+/= \t") {
			t.Fatalf("token %q is not unpadded base64url", tok)
		}
	}
}

// signedWith builds a token over an arbitrary payload with the test key, to
// reach the checks that run after the signature.
func signedWith(t *testing.T, i *Issuer, payload string) string {
	t.Helper()
	body := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return body + "." + base64.RawURLEncoding.EncodeToString(i.sign(body))
}

func TestVerifyRejects(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	i := newTestIssuer(t, testKey, now)
	good, _ := i.Mint("acme", "AKID", time.Hour)
	body, sig, _ := strings.Cut(good, ".")
	otherKey, _ := newTestIssuer(t, bytes.Repeat([]byte("x"), MinKeyLen), now).Mint("acme", "AKID", time.Hour)

	// A payload for another domain, re-encoded but keeping the original
	// signature.
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p["d"] = "evil"
	forged, _ := json.Marshal(p)
	forgedBody := base64.RawURLEncoding.EncodeToString(forged)

	flip := func(s string, at int) string {
		b := []byte(s)
		if b[at] == 'A' {
			b[at] = 'B'
		} else {
			b[at] = 'A'
		}
		return string(b)
	}
	future := now.Add(time.Hour).Unix()
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"empty", "", ErrInvalid},
		{"garbage", "not a token", ErrInvalid},
		{"no dot", body, ErrInvalid},
		{"empty payload", "." + sig, ErrInvalid},
		{"empty signature", body + ".", ErrInvalid},
		{"three parts", good + ".x", ErrInvalid},
		{"signed by another key", otherKey, ErrInvalid},
		{"payload byte flipped", flip(body, len(body)/2) + "." + sig, ErrInvalid},
		{"payload replaced", forgedBody + "." + sig, ErrInvalid},
		{"signature byte flipped", body + "." + flip(sig, 3), ErrInvalid},
		{"signature truncated", body + "." + sig[:len(sig)-2], ErrInvalid},
		{"signature padded", body + "." + sig + "=", ErrInvalid},
		{"signature in std base64", body + "." + base64.StdEncoding.EncodeToString(i.sign(body)), ErrInvalid},
		{"too long", good + strings.Repeat("A", MaxTokenLen), ErrInvalid},
		{"signed but not base64", "!!!." + base64.RawURLEncoding.EncodeToString(i.sign("!!!")), ErrInvalid},
		{"signed but not JSON", signedWith(t, i, "hello"), ErrInvalid},
		{"signed wrong version", signedWith(t, i, `{"v":2,"d":"acme","p":"x","e":`+itoa(future)+`,"n":"x"}`), ErrInvalid},
		{"signed no domain", signedWith(t, i, `{"v":1,"p":"x","e":`+itoa(future)+`,"n":"x"}`), ErrInvalid},
		{"signed expired", signedWith(t, i, `{"v":1,"d":"acme","p":"x","e":`+itoa(now.Unix()-1)+`,"n":"x"}`), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := i.Verify(tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(Claims{}, got); diff != "" {
				t.Errorf("claims on error (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), string(testKey)) {
				t.Errorf("error %q leaks the key", err)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
