package rubygems

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// TestInfoGzip: an info file large enough to compress is sent gzip to a
// client that accepts it, under the file's MD5 as a weak validator (what
// Bundler checks once it has decoded the body), and 304 for either
// validator; a range is of the identity bytes.
func TestInfoGzip(t *testing.T) {
	e := startEnv(t, envOptions{ttl: time.Hour})
	base := fixture(t, "rack-lite", "2.0.0")
	var gems []*builtGem
	for i := range 30 {
		g := *base
		key := fmt.Sprintf("1.%d.0", i)
		g.fixtureGem.name, g.fixtureGem.version = "big_gem", key
		g.line = strings.Replace(base.line, base.key, key, 1)
		g.key, g.file = key, "big_gem-"+key+".gem"
		gems = append(gems, &g)
	}
	e.src.publish(gems...)
	u := e.url("app") + "info/big_gem"
	var plain response
	for range 2 { // the engine keeps a document from its second rendering on
		plain = e.do(t, http.MethodGet, u, http.Header{"Accept-Encoding": {"identity"}}, nil)
	}
	if plain.status != 200 || len(plain.body) < 1024 || plain.header.Get("Content-Encoding") != "" {
		t.Fatalf("identity: %d, %d bytes, Content-Encoding %q", plain.status, len(plain.body), plain.header.Get("Content-Encoding"))
	}
	md5 := `"` + md5hex(plain.body) + `"`
	if plain.header.Get("ETag") != md5 || plain.header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("identity: ETag %q (want %s), Vary %q", plain.header.Get("ETag"), md5, plain.header.Get("Vary"))
	}
	gz := e.do(t, http.MethodGet, u, http.Header{"Accept-Encoding": {"gzip"}}, nil)
	if gz.status != 200 || gz.header.Get("Content-Encoding") != "gzip" || gz.header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %d, Content-Encoding %q, Vary %q", gz.status, gz.header.Get("Content-Encoding"), gz.header.Get("Vary"))
	}
	if got := gz.header.Get("ETag"); got != "W/"+md5 {
		t.Fatalf("gzip ETag %q, want W/%s", got, md5)
	}
	if got, err := formattest.Gunzip(gz.body); err != nil || !bytes.Equal(got, plain.body) {
		t.Fatalf("the gzip body does not decode to the info file (%v)", err)
	}
	tests := []struct {
		name   string
		header http.Header
		status int
		enc    string
	}{
		{"gzip, the gzip validator", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {"W/" + md5}}, 304, ""},
		{"gzip, the identity validator", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {md5}}, 304, ""},
		{"identity, the identity validator", http.Header{"Accept-Encoding": {"identity"}, "If-None-Match": {md5}}, 304, ""},
		{"gzip, another validator", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {`"0"`}}, 200, "gzip"},
		{"gzip refused by q=0", http.Header{"Accept-Encoding": {"gzip;q=0, identity"}}, 200, ""},
		{"a range is of the identity bytes", http.Header{"Accept-Encoding": {"gzip"}, "Range": {"bytes=4-"}}, 206, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, u, tc.header, nil)
			if r.status != tc.status || r.header.Get("Content-Encoding") != tc.enc {
				t.Fatalf("%d, Content-Encoding %q; want %d, %q", r.status, r.header.Get("Content-Encoding"), tc.status, tc.enc)
			}
			if tc.status == 206 && !bytes.Equal(r.body, plain.body[4:]) {
				t.Errorf("range body differs from the identity bytes")
			}
		})
	}
}
