package formats

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// ServeRendered writes a document the engine rendered: its validator (a
// distinct one for the gzip coding), Cache-Control, Vary (vary plus
// Accept-Encoding when a compressed body exists), the gzip body when the
// client accepts it, 304 when If-None-Match names either validator, and no
// body for HEAD.
func ServeRendered(c echo.Context, doc *Rendered, cacheControl, vary string) error {
	req := c.Request()
	hd := c.Response().Header()
	pre := doc.headers(cacheControl, vary)
	gz := doc.Gzip != nil && AcceptsGzip(req.Header.Values("Accept-Encoding"))
	// The values are shared by every response of this document: assigned,
	// never modified in place (net/http only reads them; an Add appends to
	// a slice whose capacity is its length, so it copies).
	if pre.vary != nil {
		hd["Vary"] = pre.vary
	}
	hd["Cache-Control"] = pre.cacheControl
	body, etag := doc.Body, pre.etag
	if gz {
		body, etag = doc.Gzip, pre.gzETag
	}
	if etag != nil {
		hd["Etag"] = etag
	}
	if inm := req.Header.Get("If-None-Match"); inm != "" && ETagMatch(inm, doc.ETag, pre.gzETagValue) {
		return c.NoContent(http.StatusNotModified)
	}
	hd["Content-Type"] = pre.contentType
	if gz {
		hd["Content-Encoding"] = gzipCoding
		hd["Content-Length"] = pre.gzLength
	} else {
		hd["Content-Length"] = pre.length
	}
	c.Response().WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(body)
	return err
}

var gzipCoding = []string{"gzip"}

// renderedHeaders are the header values of a document's responses, built
// when it is first served with a given Cache-Control and Vary and kept
// with it, so that a warm hit sets its headers without allocating.
type renderedHeaders struct {
	forCacheControl, forVary string // the arguments they were built for

	cacheControl, vary, contentType []string
	etag, gzETag                    []string // nil when there is none
	length, gzLength                []string
	gzETagValue                     string
}

// headers returns the document's header values for cacheControl and vary.
// The document must not change once served (the engine fills its validator
// and gzip body before handing it out).
func (r *Rendered) headers(cacheControl, vary string) *renderedHeaders {
	if h := r.hdrs.Load(); h != nil && h.forCacheControl == cacheControl && h.forVary == vary {
		return h
	}
	h := &renderedHeaders{forCacheControl: cacheControl, forVary: vary,
		cacheControl: []string{cacheControl}, contentType: []string{r.ContentType},
		length: []string{strconv.Itoa(len(r.Body))}, gzETagValue: GzipETag(r.ETag)}
	if r.Gzip != nil {
		if vary != "" {
			vary += ", "
		}
		vary += "Accept-Encoding"
		h.gzLength = []string{strconv.Itoa(len(r.Gzip))}
	}
	if vary != "" {
		h.vary = []string{vary}
	}
	if r.ETag != "" {
		h.etag, h.gzETag = []string{r.ETag}, []string{h.gzETagValue}
	}
	r.hdrs.Store(h)
	return h
}

// GzipETag is the validator of the gzip coding of a document whose
// validator is etag.
func GzipETag(etag string) string {
	if len(etag) >= 2 && strings.HasSuffix(etag, `"`) {
		return etag[:len(etag)-1] + `-gz"`
	}
	return etag
}

// ETagMatch reports whether an If-None-Match list names one of etags, with
// the weak comparison RFC 9110 asks for.
func ETagMatch(inm string, etags ...string) bool {
	for _, cand := range strings.Split(inm, ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == "*" {
			return true
		}
		for _, e := range etags {
			if e != "" && cand == strings.TrimPrefix(e, "W/") {
				return true
			}
		}
	}
	return false
}

// AcceptsGzip reports whether Accept-Encoding values admit gzip: named
// (or x-gzip) with a non-zero quality, or through "*".
func AcceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					} else {
						q = 0
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				return q > 0
			case "*":
				star = q > 0
			}
		}
	}
	return star
}

// ServeBytes answers with body, whose Content-Type and validators the
// caller has set. A plain GET or HEAD is one write; a request with a range
// or a condition goes through http.ServeContent, which answers those (and
// would copy a plain body through a 32 KiB buffer of its own).
func ServeBytes(c echo.Context, body []byte) {
	req := c.Request()
	for _, h := range []string{"Range", "If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if req.Header.Get(h) != "" {
			http.ServeContent(c.Response(), req, "", time.Time{}, bytes.NewReader(body))
			return
		}
	}
	res := c.Response()
	res.Header().Set("Accept-Ranges", "bytes")
	res.Header().Set("Content-Length", strconv.Itoa(len(body)))
	res.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = res.Write(body)
	}
}
