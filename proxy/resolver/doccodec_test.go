package resolver

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDocCodec(t *testing.T) {
	c := newDocCodec()
	at := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	large := []byte(strings.Repeat(`{"name":"left-pad","version":"1.3.0"},`, 2000))
	tests := []struct {
		name       string
		doc        cachedDoc
		compressed bool
	}{
		{"small body stays plain", cachedDoc{docHeader{URL: "u", FetchedAt: at, ETag: `"e"`}, []byte(`{"a":1}`)}, false},
		{"large body is compressed", cachedDoc{docHeader{URL: "u", FetchedAt: at, ContentType: "application/json"}, large}, true},
		{"negative entry", cachedDoc{docHeader{URL: "u", FetchedAt: at, NotFound: true}, nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.encode(&tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(b, []byte(`"enc":"zstd"`)); got != tt.compressed {
				t.Fatalf("compressed = %t, want %t", got, tt.compressed)
			}
			if tt.compressed && len(b) > len(tt.doc.Body)/4 {
				t.Errorf("%d bytes stored for a %d-byte body", len(b), len(tt.doc.Body))
			}
			got, err := c.decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.doc.docHeader, got.docHeader); diff != "" || !bytes.Equal(got.Body, tt.doc.Body) {
				t.Fatalf("round trip (-want +got):\n%s; body equal %t", diff, bytes.Equal(got.Body, tt.doc.Body))
			}
		})
	}
	record := func(header string, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(header)))
		return append(append(b, header...), body...)
	}
	t.Run("record from before compression", func(t *testing.T) {
		d, err := c.decode(record(`{"url":"u","fetchedAt":"2026-11-26T00:00:00Z"}`, large))
		if err != nil || !bytes.Equal(d.Body, large) {
			t.Fatalf("decode: %v", err)
		}
	})
	for name, b := range map[string][]byte{
		"corrupt compressed body": record(`{"url":"u","enc":"zstd"}`, []byte("not zstd at all")),
		"unknown encoding":        record(`{"url":"u","enc":"lz4"}`, []byte("x")),
		"short":                   {0, 0},
		"header past the end":     record(`{"url":"u"}`, nil)[:8],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.decode(b); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}
