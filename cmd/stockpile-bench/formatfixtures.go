package main

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

// formatFixtureSpec is one format's warm scenario: the fixture it
// generates, how nginx serves it, and which external connection of
// Stockpile reads it.
type formatFixtureSpec struct {
	scenario   string // "warm-pypi"
	format     string // the format in Stockpile's URLs: "pypi"
	connection string // "public:pypi"
	// connPath is the connection URL's path below nginx's base: "/simple/".
	connPath string
	// types and locations are nginx's (NginxConfig).
	types     map[string]string
	locations string
	// generate builds the fixture for an nginx at base (absolute URLs in
	// the documents point there).
	generate func(base string) (*FormatFixture, error)
}

// FormatFixture is a package of one format as its registry serves it: the
// files below nginx's root, and the two documents the warm scenario
// measures (a metadata document and an artifact).
type FormatFixture struct {
	Files    map[string][]byte // slash-separated paths below the root
	Metadata FixtureDoc
	Artifact FixtureDoc
	// Info is what the report says of the fixture.
	Info map[string]any
}

// FixtureDoc is one measured document: where nginx serves it and where
// Stockpile does.
type FixtureDoc struct {
	Pair          string // "simple page", "wheel"
	NginxPath     string // "/simple/stockpile-bench-pypi/"
	StockpilePath string // below the repository endpoint: "/simple/stockpile-bench-pypi/"
	Accept        string
	Body          []byte // nginx's bytes
	// Contains, for a metadata document (which Stockpile renders anew),
	// is a string its answer must contain; an artifact's answer must be
	// Body exactly.
	Contains string
}

// fxRNG returns the deterministic random source of a fixture.
func fxRNG(name string) *rand.Rand {
	return rand.New(rand.NewChaCha8(seedBytes(fnv64(name))))
}

// fxRandom returns n incompressible bytes.
func fxRandom(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// archiveFile is one member of a generated archive.
type archiveFile struct {
	Name string
	Body []byte
}

// fxTime is the modification time of every archive member.
var fxTime = time.Date(2024, 3, 2, 10, 11, 12, 0, time.UTC)

// fxZip builds a zip (wheels, jars, nupkgs): text members deflated,
// the random payload stored, as it would not shrink.
func fxZip(files []archiveFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		method := zip.Deflate
		if strings.HasSuffix(f.Name, ".bin") || strings.HasSuffix(f.Name, ".dll") || strings.HasSuffix(f.Name, ".so") {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: method, Modified: fxTime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fxTar builds a tar, gzip-compressed when gz (.crate files, a gem's
// data.tar.gz; a .gem itself is a plain tar).
func fxTar(files []archiveFile, gz bool) ([]byte, error) {
	var buf bytes.Buffer
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		var err error
		zw, err = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, f := range files {
		hdr := &tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Body)), ModTime: fxTime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// fxGzip compresses b.
func fxGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b) // a bytes.Buffer does not fail
	zw.Close()
	return buf.Bytes()
}

func fxSHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func fxSHA1(b []byte) string   { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }
func fxMD5(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
func fxSHA512(b []byte) []byte { s := sha512.Sum512(b); return s[:] }

// fxPlaceholder is a well-formed digest for a listed version whose
// file the fixture does not have.
func fxPlaceholder(what string) string { return fxSHA256([]byte(what)) }

// fxVersions returns n release versions in ascending order, as a
// package's history looks: 0.1.0 … 0.9.x, then 1.x.y.
func fxVersions(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		major, minor, patch := i/20, (i/4)%5, i%4
		out = append(out, fmt.Sprintf("%d.%d.%d", major, minor, patch))
	}
	return out
}

// fxPublished is the publication time of the i-th version.
func fxPublished(i int) time.Time {
	return time.Date(2021, 1, 4, 9, 30, 0, 0, time.UTC).Add(time.Duration(i) * 9 * 24 * time.Hour)
}

// Sizes of the warm fixtures: metadata as a mid-sized package has it, an
// artifact of a few hundred KB like npm-warm's tarball.
const (
	formatVersions     = 48
	formatArtifactSize = 256 << 10
)
