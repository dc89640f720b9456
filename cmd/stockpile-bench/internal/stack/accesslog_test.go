package stack

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAccessLog(t *testing.T) {
	log := `GET /pkg 200 163840
GET /pkg/-/pkg-1.0.9.tgz 200 307200
HEAD /pkg/-/pkg-1.0.9.tgz 200 0
GET /pkg/-/pkg-1.0.9.tgz 304 0

GET /other 404 153
`
	got, err := ParseAccessLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := AccessCounts{
		"/pkg":                 1,
		"/pkg/-/pkg-1.0.9.tgz": 3,
		"/other":               1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if _, err := ParseAccessLog(strings.NewReader("127.0.0.1 - - [date] \"GET / HTTP/1.1\" 200\n")); err == nil {
		t.Error("a line of another format was accepted")
	}
}
