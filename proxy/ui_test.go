package proxy

import (
	"fmt"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/webui"
)

func TestRecentErrorsKeepsTheLastNewestFirst(t *testing.T) {
	var r recentErrors
	if got := r.Recent(); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
	for i := range maxRecentErrors + 7 {
		r.add(webui.RecentError{Path: fmt.Sprint(i)})
	}
	got := r.Recent()
	if len(got) != maxRecentErrors {
		t.Fatalf("%d kept, want %d", len(got), maxRecentErrors)
	}
	if got[0].Path != fmt.Sprint(maxRecentErrors+6) || got[len(got)-1].Path != "7" {
		t.Fatalf("newest %s, oldest %s", got[0].Path, got[len(got)-1].Path)
	}
}
