package rubygems

import (
	"bytes"
	"compress/gzip"
	"io"
	"sort"
)

// The legacy full index (read by Gem::Source#load_specs): specs.4.8.gz, latest_specs.4.8.gz
// and prerelease_specs.4.8.gz are gzipped Marshal arrays of
// [name, Gem::Version, platform] triples. Stockpile derives them from the
// repository's own /versions, so they list exactly what the compact index
// offers: `gem sources --add` validates a source with specs.4.8.gz, and
// `gem search -r`, `gem list -r` and old clients read them.

// Kinds of legacy index.
const (
	specsAll        = "specs.4.8.gz"
	specsLatest     = "latest_specs.4.8.gz"
	specsPrerelease = "prerelease_specs.4.8.gz"
)

type specTuple struct {
	name, number, platform string
}

// legacySpecs lists the triples of one kind, sorted by name, version and
// platform.
func legacySpecs(index map[string][]string, kind string) []specTuple {
	names := make([]string, 0, len(index))
	for n := range index {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []specTuple
	for _, name := range names {
		keys := append([]string(nil), index[name]...)
		sort.SliceStable(keys, func(i, j int) bool { return compareKeys(keys[i], keys[j]) < 0 })
		var prev string
		latest := map[string]string{} // platform → number
		var platforms []string
		for _, k := range keys {
			if k == prev {
				continue
			}
			prev = k
			number, plat := splitKey(k)
			pre := prerelease(number)
			switch kind {
			case specsAll:
				if !pre {
					out = append(out, specTuple{name, number, plat})
				}
			case specsPrerelease:
				if pre {
					out = append(out, specTuple{name, number, plat})
				}
			case specsLatest:
				if pre {
					continue
				}
				if _, ok := latest[plat]; !ok {
					platforms = append(platforms, plat)
				}
				latest[plat] = number // keys are ascending
			}
		}
		for _, plat := range platforms {
			out = append(out, specTuple{name, latest[plat], plat})
		}
	}
	return out
}

// writeSpecs writes the gzipped Marshal array of the triples to w.
func writeSpecs(w io.Writer, tuples []specTuple) error {
	zw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	m := &marshaler{syms: map[string]int{}}
	m.buf.Write([]byte{4, 8})
	m.buf.WriteByte('[')
	m.long(int64(len(tuples)))
	for _, t := range tuples {
		if err := m.value([]any{t.name, gemVersion(t.number), t.platform}); err != nil {
			return err
		}
		if m.buf.Len() >= 64<<10 {
			if _, err := zw.Write(m.buf.Bytes()); err != nil {
				return err
			}
			m.buf.Reset()
		}
	}
	if _, err := zw.Write(m.buf.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// buildSpecs returns the gzipped legacy index of one kind.
func buildSpecs(index map[string][]string, kind string) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeSpecs(&buf, legacySpecs(index, kind)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
