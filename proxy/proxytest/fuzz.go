package proxytest

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/storage"
)

// Fuzzer sends fuzzed requests to a whole server and checks the contract
// for bad input: never a 5xx, a refused request changes nothing stored, and
// no request makes the process allocate more than FuzzMaxAlloc bytes (the
// server's intake limits are FuzzMaxPublishSize and FuzzMaxMetadataSize).
type Fuzzer struct {
	In    *Instance
	Token string
	// before is the number of version and package records after the last
	// request the server accepted.
	before int
}

// The fuzzed server's intake limits, and the most one request may make
// the process allocate.
const (
	FuzzMaxPublishSize  = 1 << 20
	FuzzMaxMetadataSize = 256 << 10
	FuzzMaxAlloc        = 64 << 20
)

// NewFuzzer starts a server with domain acme and an empty repository
// "internal" (no upstreams: fuzzing never reaches the network).
func NewFuzzer(f *testing.F, fs ...formats.Format) *Fuzzer {
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIAFUZZ", Secret: "fuzz"}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}}}}
	cfg.MaxPublishSize, cfg.MaxMetadataSize = FuzzMaxPublishSize, FuzzMaxMetadataSize
	in := Start(f, Options{Config: &cfg, Formats: fs})
	fz := &Fuzzer{In: in, Token: in.Token("acme")}
	fz.before = fz.records()
	return fz
}

func (fz *Fuzzer) records() int {
	return fz.In.CountRecords(storage.VersionsPrefix()) + fz.In.CountRecords(storage.PackagesPrefix())
}

// Do sends one request (path is appended to the server URL) with the token
// and checks the contract. It returns the status.
func (fz *Fuzzer) Do(t *testing.T, method, path string, header http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(method, fz.In.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0 // not a request a client could send
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+fz.Token)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > FuzzMaxAlloc {
		t.Fatalf("%s %s (%d bytes) made the process allocate %d bytes", method, path, len(body), alloc)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s answered %d: %s", method, path, resp.StatusCode, msg)
	}
	now := fz.records()
	if resp.StatusCode >= 300 && now != fz.before {
		t.Fatalf("%s %s answered %d (%s) but changed what is stored: %d records, were %d", method, path, resp.StatusCode, msg, now, fz.before)
	}
	fz.before = now
	return resp.StatusCode
}
