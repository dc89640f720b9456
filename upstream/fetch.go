package upstream

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/hashicorp/go-retryablehttp"
)

// Request holds the optional parts of a Get.
type Request struct {
	Accept          string // Accept header, when not empty
	IfNoneMatch     string // If-None-Match header (an ETag from a previous answer)
	IfModifiedSince string // If-Modified-Since header (an HTTP date)
	// Document asks for a gzip-compressed transfer and decompresses it: for
	// metadata. When false (artifacts) the body is asked for and returned
	// exactly as the upstream sends it, never decompressed.
	Document bool
	Header   http.Header // further headers, copied into the request
}

// Response is a successful answer to Get. The caller must close Body.
type Response struct {
	StatusCode    int           // 200, or 304 with NotModified
	Header        http.Header   // the upstream's headers (without Content-Encoding and Content-Length for a decompressed document)
	Body          io.ReadCloser // the body; empty for 304
	NotModified   bool          // the upstream answered 304 to a conditional request
	URL           string        // final URL, after redirects
	ContentLength int64         // -1 when unknown (always for a decompressed document)
}

// Get fetches ref (absolute, or relative to the connection URL) with retries.
// It returns a Response for 200 and, for a conditional request, for 304 (with
// NotModified and an empty body). Every other outcome is an error, with any
// body closed: a *StatusError wrapping ErrNotFound (404, 410),
// ErrUnauthorized (401, 403), ErrTimeout (timeouts, 504, the caller's
// deadline), ErrUnavailable (5xx, 429 after retries or with a Retry-After
// longer than MaxRetryWait, network errors, offline mode), or the caller's
// context.Canceled; a bad ref gives a plain error. Reading Body may fail with
// errors wrapping ErrTimeout (idle timeout) or ErrUnavailable (a cut or
// truncated transfer); a complete body ends with io.EOF.
func (cn *Conn) Get(ctx context.Context, ref string, req Request) (*Response, error) {
	h := make(http.Header)
	for k, v := range req.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
	}
	setIf(h, "Accept", req.Accept)
	setIf(h, "If-None-Match", req.IfNoneMatch)
	setIf(h, "If-Modified-Since", req.IfModifiedSince)
	if req.Document {
		h.Set("Accept-Encoding", "gzip")
	} else {
		h.Set("Accept-Encoding", "identity")
	}
	resp, err := cn.send(ctx, http.MethodGet, ref, h, nil, true)
	if err != nil {
		return nil, err
	}
	final := resp.Request.URL.String()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		resp.Body.Close()
		return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: http.NoBody,
			NotModified: true, URL: final}, nil
	default:
		return nil, cn.statusError(resp)
	}
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: resp.Body,
		URL: final, ContentLength: resp.ContentLength}
	if req.Document && isGzip(resp.Header.Get("Content-Encoding")) {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			resp.Body.Close()
			var re *readError
			if errors.As(err, &re) { // the transfer itself failed
				return nil, err
			}
			return nil, cn.failure(http.MethodGet, resp.Request.URL, fmt.Errorf("%w: bad gzip body: %w", ErrUnavailable, err))
		}
		out.Body = &gzipBody{zr: zr, rc: resp.Body, conn: cn.conn.Name, url: resp.Request.URL.Redacted()}
		out.Header = resp.Header.Clone()
		out.Header.Del("Content-Encoding")
		out.Header.Del("Content-Length")
		out.ContentLength = -1
	}
	return out, nil
}

// Queued returns how many requests wait for one of the connection's
// MaxConcurrent slots.
func (cn *Conn) Queued() int { return int(cn.queued.Load()) }

// Do sends a request as it is (npm audit and the like) and returns the
// upstream's response whatever its status; the caller must close its Body.
// Safe methods (GET, HEAD, OPTIONS) are retried like Get, others are sent
// once; a body is read fully before sending. Errors are those of Get without
// a status (ErrUnavailable, ErrTimeout, offline mode, context.Canceled, a
// bad ref); Body reads fail as in Get.
func (cn *Conn) Do(ctx context.Context, method, ref string, header http.Header, body io.Reader) (*http.Response, error) {
	retry := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
	return cn.send(ctx, method, ref, header.Clone(), body, retry)
}

// send runs one logical request: offline check, concurrency slot, retries.
// On success the response body is wrapped (idle timeout, slot release on
// Close); on failure everything is released and the error classified.
func (cn *Conn) send(ctx context.Context, method, ref string, h http.Header, body io.Reader, retry bool) (*http.Response, error) {
	target, err := cn.Resolve(ref)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(target)
	if err := cn.checkTarget(u); err != nil {
		return nil, cn.failure(method, u, err)
	}
	if cn.opts.Offline {
		return nil, cn.failure(method, u, fmt.Errorf("%w: %w", ErrUnavailable, errOffline))
	}
	cn.queued.Add(1)
	err = cn.sem.Acquire(ctx, 1)
	cn.queued.Add(-1)
	if err != nil {
		return nil, cn.failure(method, u, contextError(ctx, err))
	}
	release := sync.OnceFunc(func() { cn.sem.Release(1) })
	rctx, cancel := context.WithCancelCause(ctx)
	fail := func(err error) (*http.Response, error) {
		cancel(context.Canceled)
		release()
		return nil, err
	}
	var raw any
	if body != nil {
		raw = body
	}
	req, err := retryablehttp.NewRequestWithContext(rctx, method, target, raw)
	if err != nil {
		return fail(fmt.Errorf("upstream %s: %s %s: %w", cn.conn.Name, method, u.Redacted(), err))
	}
	if h != nil {
		req.Header = h
	}
	client := cn.once
	if retry {
		client = cn.retry
	}
	resp, err := client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return fail(cn.failure(method, u, cn.transportError(ctx, err)))
	}
	resp.Body = newBody(rctx, cancel, resp.Body, release, cn.opts.IdleTimeout, cn.conn.Name, resp.Request.URL.Redacted())
	return resp, nil
}

// setIf sets a header when v is not empty.
func setIf(h http.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}
