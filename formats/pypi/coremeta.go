package pypi

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// errNoMetadata is returned for a wheel without a readable METADATA file.
var errNoMetadata = errors.New("the wheel has no .dist-info/METADATA")

// wheelMetadata returns the core metadata of a wheel: the METADATA file of
// its top-level .dist-info directory (the one named after project when the
// archive has several), at most limit bytes.
func wheelMetadata(r io.ReaderAt, size int64, project string, limit int64) ([]byte, error) {
	if err := formats.CheckZipDirectory(r, size, formats.MaxArchiveEntries, limit); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a zip archive: %w", err)
	}
	var pick *zip.File
	for _, f := range zr.File {
		dir, ok := strings.CutSuffix(f.Name, ".dist-info/METADATA")
		if !ok || dir == "" || strings.Contains(dir, "/") {
			continue
		}
		name, _, _ := strings.Cut(dir, "-")
		if pick == nil || normalizeName(name) == project {
			pick = f
		}
	}
	if pick == nil {
		return nil, errNoMetadata
	}
	if pick.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("the wheel's METADATA is larger than %d bytes", limit)
	}
	rc, err := pick.Open()
	if err != nil {
		return nil, fmt.Errorf("open METADATA: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read METADATA: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the wheel's METADATA is larger than %d bytes", limit)
	}
	return b, nil
}

// metadataHeaders reads the header fields of a core metadata file (RFC 822
// style, continuation lines folded), up to the first empty line.
func metadataHeaders(b []byte) map[string][]string {
	out := map[string][]string{}
	var key string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && key != "" {
			vs := out[key]
			vs[len(vs)-1] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			key = ""
			continue
		}
		key = strings.ToLower(strings.TrimSpace(k))
		out[key] = append(out[key], strings.TrimSpace(v))
	}
	return out
}
