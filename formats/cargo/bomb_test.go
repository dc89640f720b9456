package cargo_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// bombCrate is a valid .crate (a tar archive with Cargo.toml) whose gzip
// stream goes on after the tar archive's end with chunks of zeros: each
// 1 MiB chunk costs about 1 KiB, so tail MiB of zeros make a .crate of about
// tail KiB. The gzip trailer is right: the whole stream is a valid gzip.
func bombCrate(t *testing.T, name, version string, tail int) []byte {
	t.Helper()
	tarBytes := tarOf(t, goCrate(t, name, version))
	var buf bytes.Buffer
	buf.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}) // RFC 1952 header
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(tarBytes)
	fw.Flush() // byte-aligned, not final
	var chunk bytes.Buffer
	cw, _ := flate.NewWriter(&chunk, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	cw.Write(zeros)
	cw.Flush() // self-contained blocks, not final
	for range tail {
		buf.Write(chunk.Bytes())
	}
	crc := crcZeros(crc32.ChecksumIEEE(tarBytes), uint64(tail)<<20)
	buf.Write([]byte{0x03, 0x00}) // an empty final block
	size := uint64(len(tarBytes)) + uint64(tail)<<20
	buf.Write(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, crc), uint32(size)))
	return buf.Bytes()
}

// crcZeros returns the CRC-32 (IEEE) of the bytes whose CRC is crc
// followed by n zero bytes, without reading them: zero bytes act on the
// CRC's register (the complement of the CRC) linearly, and the operator of
// n of them is built by squaring, as zlib's crc32_combine does.
func crcZeros(crc uint32, n uint64) uint32 {
	times := func(mat *[32]uint32, vec uint32) uint32 {
		var sum uint32
		for i := 0; vec != 0; i, vec = i+1, vec>>1 {
			if vec&1 != 0 {
				sum ^= mat[i]
			}
		}
		return sum
	}
	square := func(sq, mat *[32]uint32) {
		for i := range 32 {
			sq[i] = times(mat, mat[i])
		}
	}
	crc = ^crc
	var odd, even [32]uint32
	odd[0] = 0xedb88320 // the operator of one zero bit
	for i, row := 1, uint32(1); i < 32; i, row = i+1, row<<1 {
		odd[i] = row
	}
	square(&even, &odd) // two zero bits
	square(&odd, &even) // four
	for n != 0 {
		square(&even, &odd) // one zero byte on the first pass
		if n&1 != 0 {
			crc = times(&even, crc)
		}
		if n >>= 1; n == 0 {
			break
		}
		square(&odd, &even)
		if n&1 != 0 {
			crc = times(&odd, crc)
		}
		n >>= 1
	}
	return ^crc
}

// tarOf inflates a .crate made by goCrate back to its tar bytes.
func tarOf(t *testing.T, crate []byte) []byte {
	t.Helper()
	b, err := formattest.Gunzip(crate)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrateBombChild is the server of TestCrateGzipBomb, in a child process.
func TestCrateBombChild(t *testing.T) {
	if !proxytest.IsChild(t.Name()) {
		t.Skip("the server of TestCrateGzipBomb")
	}
	cfg := proxy.Defaults()
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}}}}
	proxytest.ServeChild(t, proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{cargo.New()}}))
}

// TestCrateGzipBomb publishes a 16 MB .crate whose gzip stream goes on for
// 16 GiB of zeros after its tar archive, to a server in a child process:
// it is refused, and the publish costs the server under 100 ms of CPU
// (receiving, spooling and hashing the 16 MB included; 300 ms under the
// race detector). Before the tail was bounded it cost 3.5 s.
func TestCrateGzipBomb(t *testing.T) {
	child := proxytest.StartChild(t, "TestCrateBombChild")
	in := &proxytest.Instance{URL: child.URL}
	crate := bombCrate(t, "bomb", "0.1.0", 16<<10)
	t.Logf(".crate of %d bytes, 16 GiB inflated", len(crate))
	body := publishBody(newCrateMeta("bomb", "0.1.0"), crate)
	if res := publish(t, in, "internal", publishBody(newCrateMeta("warm", "0.1.0"), goCrate(t, "warm", "0.1.0"))); res.Code != http.StatusOK {
		t.Fatalf("warm-up publish: %d %s", res.Code, res.Body)
	}
	start := child.CPU(t)
	res := publish(t, in, "internal", body)
	used := child.CPU(t) - start
	t.Logf("publish answered %d after %v of the server's CPU", res.Code, used)
	if res.Code != http.StatusBadRequest || !strings.Contains(res.Body, "goes on after the end of its tar archive") {
		t.Errorf("%d %s, want 400", res.Code, res.Body)
	}
	budget := 100 * time.Millisecond
	if raceEnabled {
		budget *= 3 // the race detector's overhead on the spooling and hashing
	}
	if used >= budget {
		t.Errorf("the publish cost the server %v of CPU, more than %v", used, budget)
	}
}

func TestCRCZeros(t *testing.T) {
	data := []byte("head")
	for _, n := range []int{0, 1, 7, 4096, 1<<20 + 3} {
		want := crc32.ChecksumIEEE(append(append([]byte(nil), data...), make([]byte, n)...))
		if got := crcZeros(crc32.ChecksumIEEE(data), uint64(n)); got != want {
			t.Errorf("%d zeros: %08x, want %08x", n, got, want)
		}
	}
}
