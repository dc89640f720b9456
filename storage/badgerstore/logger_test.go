package badgerstore

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordingHandler keeps the records it is given.
type recordingHandler struct {
	level   slog.Level
	records *[]string
}

func (h recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	*h.records = append(*h.records, r.Level.String()+" "+r.Message)
	return nil
}

func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h recordingHandler) WithGroup(string) slog.Handler { return h }

func TestSlogAdapter(t *testing.T) {
	tests := []struct {
		name    string
		handler slog.Level
		want    []string
	}{
		{"info-handler", slog.LevelInfo, []string{"ERROR e 1", "WARN w 2"}},
		{"debug-handler", slog.LevelDebug, []string{"ERROR e 1", "WARN w 2", "DEBUG i 3", "DEBUG d 4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			a := slogAdapter{log: slog.New(recordingHandler{level: tt.handler, records: &got})}
			a.Errorf("e %d\n", 1)
			a.Warningf("w %d\n", 2)
			a.Infof("i %d", 3)
			a.Debugf("d %d\n", 4)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("logged (-want +got):\n%s", diff)
			}
		})
	}
}
