package badgerstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// slogAdapter implements badger.Logger on a *slog.Logger. Badger's chatty
// Info and Debug messages go to slog's Debug level, so a handler at the usual
// Info level shows only badger's warnings and errors.
type slogAdapter struct {
	log *slog.Logger
}

func (a slogAdapter) Errorf(format string, args ...any) { a.logf(slog.LevelError, format, args) }

func (a slogAdapter) Warningf(format string, args ...any) { a.logf(slog.LevelWarn, format, args) }

func (a slogAdapter) Infof(format string, args ...any) { a.logf(slog.LevelDebug, format, args) }

func (a slogAdapter) Debugf(format string, args ...any) { a.logf(slog.LevelDebug, format, args) }

func (a slogAdapter) logf(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !a.log.Enabled(ctx, level) {
		return
	}
	a.log.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
