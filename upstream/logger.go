package upstream

import (
	"context"
	"log/slog"
)

// slogAdapter is retryablehttp's LeveledLogger over a *slog.Logger. Every
// message is logged at Debug: a retried failure is not an error of the
// proxy, and the final outcome reaches the caller as an error value.
// retryablehttp logs redacted URLs and never headers, so no credential
// passes through here.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) logAt(msg string, kv []any) {
	a.log.Log(context.Background(), slog.LevelDebug, msg, kv...)
}

// Error implements retryablehttp.LeveledLogger.
func (a slogAdapter) Error(msg string, kv ...any) { a.logAt(msg, kv) }

// Warn implements retryablehttp.LeveledLogger.
func (a slogAdapter) Warn(msg string, kv ...any) { a.logAt(msg, kv) }

// Info implements retryablehttp.LeveledLogger.
func (a slogAdapter) Info(msg string, kv ...any) { a.logAt(msg, kv) }

// Debug implements retryablehttp.LeveledLogger.
func (a slogAdapter) Debug(msg string, kv ...any) { a.logAt(msg, kv) }
