package upstream_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// TestHostRules: metadata and redirects may send the client only to the
// connection's own origin and its allowed hosts, and hosts other than its own
// may not resolve to internal addresses. A refused target receives nothing.
func TestHostRules(t *testing.T) {
	tests := []struct {
		name string
		// ref is what the caller asks for; {own} and {other} are replaced
		// by the base URLs of the connection's server and of another server
		// on loopback, {otherport} by the other's port.
		ref       string
		redirect  bool // the connection's server redirects "/asset" to ref
		opts      func(other string) upstream.Options
		wantErr   error // nil: the other server answers
		wantInErr string
	}{
		{name: "metadata names another loopback port", ref: "{other}/internal-secret",
			wantErr: upstream.ErrRefused, wantInErr: "allowed_hosts"},
		{name: "redirect to another loopback port", ref: "{other}/internal-secret", redirect: true,
			wantErr: upstream.ErrRefused, wantInErr: "allowed_hosts"},
		{name: "allowed by host:port", ref: "{other}/internal-secret",
			opts: func(o string) upstream.Options { return upstream.Options{AllowedHosts: []string{o}} }},
		{name: "redirect allowed by host:port", ref: "{other}/internal-secret", redirect: true,
			opts: func(o string) upstream.Options { return upstream.Options{AllowedHosts: []string{o}} }},
		{name: "allowed host resolving to loopback", ref: "http://localhost:{otherport}/internal-secret",
			opts: func(o string) upstream.Options {
				return upstream.Options{AllowedHosts: []string{"localhost:" + portOf(o)}}
			},
			wantErr: upstream.ErrRefused, wantInErr: "allow_private_networks"},
		{name: "redirect to allowed host resolving to loopback", ref: "http://localhost:{otherport}/internal-secret", redirect: true,
			opts: func(o string) upstream.Options {
				return upstream.Options{AllowedHosts: []string{"localhost:" + portOf(o)}}
			},
			wantErr: upstream.ErrRefused, wantInErr: "allow_private_networks"},
		{name: "private networks allowed", ref: "http://localhost:{otherport}/internal-secret",
			opts: func(o string) upstream.Options {
				return upstream.Options{AllowedHosts: []string{"localhost:" + portOf(o)}, AllowPrivateNetworks: true}
			}},
		{name: "file scheme", ref: "file:///etc/passwd", wantErr: upstream.ErrRefused, wantInErr: "only http and https"},
		{name: "ftp scheme", ref: "ftp://{otherhost}/internal-secret", wantErr: upstream.ErrRefused, wantInErr: "only http and https"},
		{name: "redirect to file scheme", ref: "file:///etc/passwd", redirect: true, wantErr: upstream.ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := upstreamtest.New(t)
			other := upstreamtest.New(t)
			other.Handle("/internal-secret", upstreamtest.Response{Body: []byte("the internal secret")})
			otherHost := strings.TrimPrefix(other.URL, "http://")
			ref := strings.NewReplacer("{other}", other.URL, "{otherhost}", otherHost, "{otherport}", portOf(otherHost)).Replace(tt.ref)
			var opts upstream.Options
			if tt.opts != nil {
				opts = tt.opts(otherHost)
			}
			if tt.redirect {
				target := ref
				own.HandleFunc("/asset", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", target)
					w.WriteHeader(http.StatusFound)
				})
				ref = "asset"
			}
			cn := testConn(t, own, opts)
			resp, err := cn.Get(ctx(t), ref, upstream.Request{})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				body, err := readAll(t, resp)
				if err != nil || string(body) != "the internal secret" {
					t.Fatalf("body %q, %v", body, err)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatal("Get succeeded")
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("error %v is not %v and ErrUnavailable", err, tt.wantErr)
			}
			var re *upstream.RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Error(), tt.wantInErr) {
				t.Errorf("error %v: want a RefusedError naming %q", err, tt.wantInErr)
			}
			if n := other.TotalHits(); n != 0 {
				t.Errorf("the refused target received %d requests", n)
			}
			if tt.redirect && own.Hits("/asset") != 1 {
				t.Errorf("the redirect was asked %d times, want once (refusals are not retried)", own.Hits("/asset"))
			}
		})
	}
}

func portOf(hostport string) string {
	return hostport[strings.LastIndexByte(hostport, ':')+1:]
}

func TestAllowedHostsValidate(t *testing.T) {
	err := upstream.Options{AllowedHosts: []string{"https://files.example.org/"}}.Validate("public:pypi")
	if err == nil || !strings.Contains(err.Error(), "allowed_hosts") {
		t.Errorf("Validate = %v, want an allowed_hosts error", err)
	}
	if err := (upstream.Options{AllowedHosts: []string{"files.example.org", "*.cdn.example", "h:8443"}}).Validate("public:pypi"); err != nil {
		t.Errorf("Validate = %v", err)
	}
}
