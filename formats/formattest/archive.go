// Package formattest builds the package files that the format tests and
// cmd/stockpile-bench both need: zips, tars and gzip streams, and on them
// the artifacts of each format (wheels with their RECORD, nupkgs with their
// OPC parts, gems, crates, npm tarballs), deterministic when their inputs
// are. It sits beside proxytest and upstreamtest rather than below an
// internal/ directory because Go lets only code below internal/'s parent
// import it, and formats/ is not a parent of cmd/.
//
// The builders write to memory, where writing cannot fail: an error can
// only come from a member the archive format cannot hold (a tar name too
// long for USTAR), a bug in the caller, so they panic as
// regexp.MustCompile does.
package formattest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// File is one member of an archive.
type File struct {
	Name string
	Body []byte
}

// Text is a member with a text body.
func Text(name, body string) File { return File{Name: name, Body: []byte(body)} }

// ModTime is the modification time of every archive member, so that the
// same members make the same bytes.
var ModTime = time.Date(2024, 3, 2, 10, 11, 12, 0, time.UTC)

func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("formattest: %v", err))
	}
}

// Zip builds a zip (wheels, jars, nupkgs): members deflated, except those
// named *.bin, *.dll or *.so, stored as random payloads would not shrink.
func Zip(files ...File) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		method := zip.Deflate
		if strings.HasSuffix(f.Name, ".bin") || strings.HasSuffix(f.Name, ".dll") || strings.HasSuffix(f.Name, ".so") {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: method, Modified: ModTime})
		must(err)
		_, err = w.Write(f.Body)
		must(err)
	}
	must(zw.Close())
	return buf.Bytes()
}

// Tar builds a plain tar of regular files (a .gem is one).
func Tar(files ...File) []byte {
	var buf bytes.Buffer
	writeTar(&buf, files)
	return buf.Bytes()
}

// TarGz builds a gzip-compressed tar (npm tarballs, .crate files, a gem's
// data.tar.gz, sdists).
func TarGz(files ...File) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	must(err)
	writeTar(zw, files)
	must(zw.Close())
	return buf.Bytes()
}

func writeTar(w interface{ Write([]byte) (int, error) }, files []File) {
	tw := tar.NewWriter(w)
	for _, f := range files {
		must(tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Body)), ModTime: ModTime,
			Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}))
		_, err := tw.Write(f.Body)
		must(err)
	}
	must(tw.Close())
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	must(err)
	must(zw.Close())
	return buf.Bytes()
}

// RNG returns a random source seeded from name: the same name, the same
// bytes.
func RNG(name string) *rand.Rand { return rand.New(rand.NewChaCha8(Seed(name))) }

// Hash64 is FNV-1a: stable numbers derived from a name.
func Hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Seed is the ChaCha8 seed RNG derives from name.
func Seed(name string) [32]byte {
	h := Hash64(name)
	var out [32]byte
	for i := range 4 {
		s := h + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			out[i*8+j] = byte(s >> (8 * j))
		}
	}
	return out
}

// Random returns n incompressible bytes from rng.
func Random(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Hex digests, as registries list them.
func SHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func SHA1(b []byte) string   { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }
func MD5(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// SHA512 is the raw SHA-512 (NuGet and npm's integrity encode it in base64).
func SHA512(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
