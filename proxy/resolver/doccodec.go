package resolver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Cached upstream documents are stored compressed: JSON and HTML indexes
// shrink five to ten times, so the database writes, keeps and maps far
// fewer bytes (a 40 KB packument falls below Badger's value threshold and
// stays out of its value log). A document is decompressed only when a view
// is built from it, not when a rendered one is served.

// compressFrom is the smallest body worth compressing.
const compressFrom = 1 << 10

// docCodec encodes cached documents. Its encoder and decoder are safe for
// concurrent use.
type docCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newDocCodec() *docCodec {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder options: %v", err)) // constant options: a programming error
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(maxDocument))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder options: %v", err))
	}
	return &docCodec{enc: enc, dec: dec}
}

// encode lays a document out as a 4-byte header length, the JSON header and
// the body, compressed when it is large enough (the header says so).
func (c *docCodec) encode(d *cachedDoc) ([]byte, error) {
	hd, body := d.docHeader, d.Body
	hd.Encoding = ""
	if len(body) >= compressFrom {
		hd.Encoding, body = "zstd", c.enc.EncodeAll(body, make([]byte, 0, len(body)/4))
	}
	h, err := json.Marshal(hd)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, 4+len(h)+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(h)))
	out = append(out, h...)
	return append(out, body...), nil
}

// decode reads what encode wrote, and records written before documents
// were compressed.
func (c *docCodec) decode(b []byte) (*cachedDoc, error) {
	if len(b) < 4 {
		return nil, errors.New("short document record")
	}
	n := int(binary.BigEndian.Uint32(b))
	if 4+n > len(b) {
		return nil, errors.New("short document record")
	}
	d := &cachedDoc{}
	if err := json.Unmarshal(b[4:4+n], &d.docHeader); err != nil {
		return nil, err
	}
	d.Body = b[4+n:]
	switch d.Encoding {
	case "":
	case "zstd":
		body, err := c.dec.DecodeAll(d.Body, nil)
		if err != nil {
			return nil, fmt.Errorf("decompress cached document: %w", err)
		}
		d.Body, d.Encoding = body, ""
	default:
		return nil, fmt.Errorf("cached document in unknown encoding %q", d.Encoding)
	}
	return d, nil
}
