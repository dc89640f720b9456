package token

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFromRequest(t *testing.T) {
	const tok = "eyJ2IjoxfQ.c2lnbmF0dXJl"
	basic := func(userpass string) string {
		return base64.StdEncoding.EncodeToString([]byte(userpass))
	}
	tests := []struct {
		name    string
		headers map[string]string
		want    string
		wantOK  bool
	}{
		{name: "bearer", headers: map[string]string{"Authorization": "Bearer " + tok}, want: tok, wantOK: true},
		{name: "bearer lower case", headers: map[string]string{"Authorization": "bearer " + tok}, want: tok, wantOK: true},
		{name: "bearer upper case extra spaces", headers: map[string]string{"Authorization": "  BEARER   " + tok + "  "}, want: tok, wantOK: true},
		{name: "bearer tab separated", headers: map[string]string{"Authorization": "Bearer\t" + tok}, want: tok, wantOK: true},
		{name: "bearer without token", headers: map[string]string{"Authorization": "Bearer "}, wantOK: false},
		{name: "bearer alone", headers: map[string]string{"Authorization": "Bearer"}, wantOK: false},
		{name: "bearer with two words", headers: map[string]string{"Authorization": "Bearer a b"}, wantOK: false},
		{name: "basic aws user", headers: map[string]string{"Authorization": "Basic " + basic("aws:"+tok)}, want: tok, wantOK: true},
		{name: "basic any user", headers: map[string]string{"Authorization": "Basic " + basic("someone@example.com:"+tok)}, want: tok, wantOK: true},
		{name: "basic empty user", headers: map[string]string{"Authorization": "Basic " + basic(":"+tok)}, want: tok, wantOK: true},
		{name: "basic password containing colon", headers: map[string]string{"Authorization": "Basic " + basic("aws:a:b")}, want: "a:b", wantOK: true},
		{name: "basic lower case scheme", headers: map[string]string{"Authorization": "basic " + basic("aws:"+tok)}, want: tok, wantOK: true},
		{name: "basic unpadded", headers: map[string]string{"Authorization": "Basic " + base64.RawStdEncoding.EncodeToString([]byte("aws:"+tok+"x"))}, want: tok + "x", wantOK: true},
		{name: "basic empty password", headers: map[string]string{"Authorization": "Basic " + basic("aws:")}, wantOK: false},
		{name: "basic no colon", headers: map[string]string{"Authorization": "Basic " + basic(tok)}, wantOK: false},
		{name: "basic bad base64", headers: map[string]string{"Authorization": "Basic !!!"}, wantOK: false},
		{name: "basic alone", headers: map[string]string{"Authorization": "Basic"}, wantOK: false},
		{name: "raw token (cargo)", headers: map[string]string{"Authorization": tok}, want: tok, wantOK: true},
		{name: "raw token trimmed", headers: map[string]string{"Authorization": " " + tok + " "}, want: tok, wantOK: true},
		{name: "other scheme", headers: map[string]string{"Authorization": "Digest username=\"x\""}, wantOK: false},
		{name: "sigv4 scheme", headers: map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/codeartifact/aws4_request, SignedHeaders=host, Signature=00"}, wantOK: false},
		{name: "token scheme word", headers: map[string]string{"Authorization": "token " + tok}, wantOK: false},
		{name: "nuget api key", headers: map[string]string{"X-NuGet-ApiKey": tok}, want: tok, wantOK: true},
		{name: "nuget api key trimmed", headers: map[string]string{"X-Nuget-Apikey": " " + tok + " "}, want: tok, wantOK: true},
		{name: "authorization wins over nuget key", headers: map[string]string{"Authorization": "Bearer a", "X-NuGet-ApiKey": "b"}, want: "a", wantOK: true},
		{name: "unusable authorization falls back to nuget key", headers: map[string]string{"Authorization": "Digest x", "X-NuGet-ApiKey": tok}, want: tok, wantOK: true},
		{name: "empty authorization", headers: map[string]string{"Authorization": ""}, wantOK: false},
		{name: "empty nuget key", headers: map[string]string{"X-NuGet-ApiKey": "  "}, wantOK: false},
		{name: "absent", headers: nil, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			got, ok := FromRequest(r)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("FromRequest = (%q, %v), want (%q, %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	tests := []struct {
		name  string
		realm string
		want  []string
	}{
		{"domain/repo", "acme/app", []string{`Basic realm="acme/app"`, `Bearer realm="acme/app"`}},
		{"empty", "", []string{`Basic realm=""`, `Bearer realm=""`}},
		{"quotes escaped", `a"b\c`, []string{`Basic realm="a\"b\\c"`, `Bearer realm="a\"b\\c"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Challenge(tt.realm)); diff != "" {
				t.Errorf("Challenge mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromRequestRoundTrip(t *testing.T) {
	i := newTestIssuer(t, testKey, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	tok, _ := i.Mint("acme", "AKID", time.Hour)
	for _, header := range []struct{ name, value string }{
		{"Authorization", "Bearer " + tok},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("aws:"+tok))},
		{"Authorization", tok},
		{"X-NuGet-ApiKey", tok},
	} {
		t.Run(header.name+" "+header.value[:6], func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(header.name, header.value)
			got, ok := FromRequest(r)
			if !ok {
				t.Fatal("no token found")
			}
			c, err := i.Verify(got)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Domain != "acme" || c.Principal != "AKID" {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}
