package proxytest

import (
	"io"
	"net/http"
	"testing"
)

// Do sends req and returns the answer's status, headers and body; a
// request that cannot be sent or an answer that cannot be read fails t.
func Do(t testing.TB, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// Get GETs url with the given headers (nil for none) and returns the
// answer's status and body.
func Get(t testing.TB, url string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	code, _, b := Do(t, req)
	return code, b
}

// GetOK is Get where any status but 200 fails t, with the body.
func GetOK(t testing.TB, url string, header http.Header) []byte {
	t.Helper()
	code, b := Get(t, url, header)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	return b
}
