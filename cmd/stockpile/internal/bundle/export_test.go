package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
)

// assetServer answers GetPackageVersionAsset with body.
type assetServer struct{ body []byte }

func (s assetServer) Call(context.Context, string, string, url.Values, []byte) ([]byte, error) {
	return nil, errors.New("not expected")
}

func (s assetServer) Open(context.Context, string, string, url.Values) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.body)), nil
}

func (s assetServer) Send(context.Context, string, string, url.Values, io.Reader, int64, string) ([]byte, error) {
	return nil, errors.New("not expected")
}

// TestCopyAsset: an asset is streamed into the bundle only when the
// server sends exactly the bytes it lists.
func TestCopyAsset(t *testing.T) {
	listed := []byte("the asset's bytes")
	a := Asset{Name: "x.bin", Size: int64(len(listed)), SHA256: sum(listed)}
	tests := []struct {
		name    string
		sent    []byte
		wantErr string
	}{
		{"the listed bytes", listed, ""},
		{"fewer bytes", listed[:5], "the server sent 5 bytes"},
		{"more bytes", append(append([]byte{}, listed...), '!'), "the server sent 18 bytes"},
		{"other bytes of the same size", bytes.ToUpper(listed), "the server sent 17 bytes with SHA-256 " + sum(bytes.ToUpper(listed))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w bytes.Buffer
			err := copyAsset(context.Background(), assetServer{tt.sent}, "acme", "internal", Package{Format: "generic", Name: "x"}, "1.0", a, &w)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(w.Bytes(), listed) {
					t.Fatalf("err %v, wrote %q", err, w.Bytes())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}
