package cargo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// FuzzPublishFrame sends arbitrary `cargo publish` frames.
func FuzzPublishFrame(f *testing.F) {
	f.Add(frame(`{"name":"fuzz_crate","vers":"1.0.0","deps":[],"features":{}}`, []byte{0x1f, 0x8b, 0, 0}))
	f.Add(frame(`{"name":"../x","vers":"1"}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	// Over the fuzzed server's limits: metadata, .crate, and a .crate
	// whose gzip stream goes on for 2 MiB after its tar archive.
	f.Add(binary.LittleEndian.AppendUint32(nil, proxytest.FuzzMaxMetadataSize+1))
	f.Add(binary.LittleEndian.AppendUint32(frame(`{}`, nil)[:6], proxytest.FuzzMaxPublishSize+1))
	f.Add(frame(`{"name":"fuzz_crate","vers":"1.0.0","deps":[],"features":{}}`, tailedCrate("fuzz_crate-1.0.0/", 2<<20)))
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.Do(t, http.MethodPut, "/acme/cargo/internal/api/v1/crates/new", nil, body)
	})
}

// tailedCrate is a .crate with a Cargo.toml whose gzip stream goes on with
// tail zero bytes after the tar archive's end.
func tailedCrate(prefix string, tail int) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	toml := "[package]\nname = \"fuzz_crate\"\nversion = \"1.0.0\"\n"
	tw.WriteHeader(&tar.Header{Name: prefix + "Cargo.toml", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(toml))})
	tw.Write([]byte(toml))
	tw.Close()
	zw.Write(make([]byte, tail))
	zw.Close()
	return buf.Bytes()
}
