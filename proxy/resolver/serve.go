package resolver

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
)

func serveBlob(w http.ResponseWriter, req *http.Request, blob storage.Blob, mod time.Time) error {
	defer blob.Close()
	s := blob.Sums()
	h := w.Header()
	h.Set("ETag", `"`+s.SHA256+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("X-Checksum-Sha256", s.SHA256)
	// The common case, a whole blob with no conditions, is one write from
	// memory or one sendfile; everything else (ranges, validators) goes
	// through ServeContent.
	plain := req.Header.Get("Range") == "" && req.Header.Get("If-None-Match") == "" &&
		req.Header.Get("If-Modified-Since") == "" && req.Header.Get("If-Range") == ""
	hb, hot := blob.(hotBlob)
	var sw *sendfileWriter
	f, inFile := blob.(filer)
	if inFile {
		sw = newSendfileWriter(w)
	}
	switch {
	case plain && (hot || sw != nil):
		h.Set("Content-Length", strconv.FormatInt(s.Size, 10))
		if !mod.IsZero() {
			h.Set("Last-Modified", mod.UTC().Format(http.TimeFormat))
		}
		w.WriteHeader(http.StatusOK)
		switch {
		case req.Method == http.MethodHead:
		case hot:
			_, _ = hb.WriteTo(w)
		default:
			// Headers out first, so that the connection's ReadFrom sends
			// the whole file instead of copying its start.
			_ = http.NewResponseController(w).Flush()
			_, _ = sw.ReadFrom(io.LimitReader(f.File(), s.Size))
			addSent(req.Context(), sw.n)
		}
	case sw != nil:
		http.ServeContent(sw, req, "", mod, f.File())
		addSent(req.Context(), sw.n)
	default:
		http.ServeContent(w, req, "", mod, blob)
	}
	return nil
}

// filer is a blob kept in a file of its own.
type filer interface{ File() *os.File }

// sendfileWriter lets http.ServeContent hand a file to the connection
// (sendfile) when the response writer it was given wraps one that can and
// does not pass ReadFrom on itself (echo's): headers go through the outer
// writer, which records the status; the body goes beneath it and is counted
// here. So no writer between may change the body (none does: documents are
// compressed ahead, blobs never).
type sendfileWriter struct {
	http.ResponseWriter
	rf io.ReaderFrom
	n  int64
}

// newSendfileWriter returns nil when w has no io.ReaderFrom beneath it, or
// is one itself (ServeContent then finds it without help).
func newSendfileWriter(w http.ResponseWriter) *sendfileWriter {
	if _, ok := w.(io.ReaderFrom); ok {
		return nil
	}
	for inner := w; ; {
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		inner = u.Unwrap()
		if rf, ok := inner.(io.ReaderFrom); ok {
			return &sendfileWriter{ResponseWriter: w, rf: rf}
		}
	}
}

// ReadFrom sends r beneath the outer writer.
func (w *sendfileWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.rf.ReadFrom(r)
	w.n += n
	return n, err
}
