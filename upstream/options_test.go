package upstream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stockpile-proxy/stockpile/upstream"
	"gopkg.in/yaml.v3"
)

func TestOptionsWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   upstream.Options
		want upstream.Options
	}{
		{
			name: "zero",
			want: upstream.Options{TTL: 5 * time.Minute, NegativeTTL: time.Minute, MaxConcurrent: 16,
				Timeout: 30 * time.Second, IdleTimeout: time.Minute, Retries: 2, MaxRetryWait: 10 * time.Second},
		},
		{
			name: "set values kept",
			in: upstream.Options{URL: "https://x.example/", TTL: time.Hour, NegativeTTL: time.Second, MaxConcurrent: 3,
				Timeout: time.Second, IdleTimeout: 2 * time.Second, Retries: 5, MaxRetryWait: time.Second, Offline: true},
			want: upstream.Options{URL: "https://x.example/", TTL: time.Hour, NegativeTTL: time.Second, MaxConcurrent: 3,
				Timeout: time.Second, IdleTimeout: 2 * time.Second, Retries: 5, MaxRetryWait: time.Second, Offline: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.WithDefaults()); diff != "" {
				t.Fatalf("WithDefaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      upstream.Options
		wantErr []string // substrings; nil means valid
	}{
		{name: "zero is valid"},
		{name: "https url", in: upstream.Options{URL: "https://registry.example/npm/"}},
		{name: "http url", in: upstream.Options{URL: "http://127.0.0.1:8080"}},
		{name: "relative url", in: upstream.Options{URL: "/simple/"}, wantErr: []string{"scheme"}},
		{name: "ftp url", in: upstream.Options{URL: "ftp://host/"}, wantErr: []string{"scheme"}},
		{name: "no host", in: upstream.Options{URL: "https:///path"}, wantErr: []string{"no host"}},
		{name: "garbage", in: upstream.Options{URL: "http://[::1"}, wantErr: []string{"not a valid URL"}},
		{name: "credentials in url", in: upstream.Options{URL: "https://bob:hunter22@host/"}, wantErr: []string{"credentials"}},
		{name: "negatives", in: upstream.Options{TTL: -1, NegativeTTL: -1, Timeout: -1, IdleTimeout: -1,
			MaxRetryWait: -1, MaxConcurrent: -1, Retries: -1},
			wantErr: []string{"ttl", "negative_ttl", "timeout", "idle_timeout", "max_retry_wait", "max_concurrent", "retries"}},
		{name: "token and basic", in: upstream.Options{Token: "t0ken-secret", Username: "u"}, wantErr: []string{"either token"}},
		{name: "password alone", in: upstream.Options{Password: "p"}, wantErr: []string{"without username"}},
		{name: "basic", in: upstream.Options{Username: "u", Password: "p"}},
		{name: "token", in: upstream.Options{Token: "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate("public:pypi")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error mentioning %q", tt.wantErr)
			}
			msg := err.Error()
			for _, w := range append(tt.wantErr, `"public:pypi"`) {
				if !strings.Contains(msg, w) {
					t.Errorf("Validate() = %q, want it to mention %q", msg, w)
				}
			}
			for _, secret := range []string{"hunter22", "t0ken-secret"} {
				if strings.Contains(msg, secret) {
					t.Errorf("Validate() error %q leaks a secret", msg)
				}
			}
		})
	}
}

func TestOptionsYAML(t *testing.T) {
	src := `
url: https://registry.example/npm/
ttl: 10m
negative_ttl: 30s
max_concurrent: 4
timeout: 5s
idle_timeout: 1m30s
retries: 3
max_retry_wait: 2s
username: alice
password: secret
offline: true
`
	var got upstream.Options
	if err := yaml.Unmarshal([]byte(src), &got); err != nil {
		t.Fatal(err)
	}
	want := upstream.Options{URL: "https://registry.example/npm/", TTL: 10 * time.Minute, NegativeTTL: 30 * time.Second,
		MaxConcurrent: 4, Timeout: 5 * time.Second, IdleTimeout: 90 * time.Second, Retries: 3,
		MaxRetryWait: 2 * time.Second, Username: "alice", Password: "secret", Offline: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded options (-want +got):\n%s", diff)
	}
}
