package proxy

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/controlplane"
)

// spoolSubdir is the directory below data_dir where request bodies are
// spooled while they are checked. What a crash left there is removed at
// start; the system's temporary directory is never used.
const spoolSubdir = "tmp"

// prepareSpool empties and creates the spool directory below dataDir.
func prepareSpool(dataDir string) (string, error) {
	if dataDir == "" {
		return "", fmt.Errorf("config: data_dir is empty")
	}
	dir := filepath.Join(dataDir, spoolSubdir)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("spool directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("spool directory: %w", err)
	}
	return dir, nil
}

// busyRetry is the Retry-After of a write refused for the publish cap.
const busyRetry = 5 * time.Second

// isWrite reports whether a data-plane request may carry a body to store.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// acquireWrite takes one of the max_concurrent_publishes slots, or returns
// a BusyError (429 with Retry-After) when none is free. release gives it
// back.
func (s *Server) acquireWrite() (release func(), err error) {
	select {
	case s.writes <- struct{}{}:
		return func() { <-s.writes }, nil
	default:
		return nil, &formats.BusyError{
			Message:    fmt.Sprintf("the server is taking %d publishes already: try again shortly", cap(s.writes)),
			RetryAfter: busyRetry,
		}
	}
}

// limitWrites applies the publish cap to the control plane's publish.
func (s *Server) limitWrites(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !controlplane.IsPublish(c.Request()) {
			return next(c)
		}
		release, err := s.acquireWrite()
		if err != nil {
			return err
		}
		defer release()
		return next(c)
	}
}
