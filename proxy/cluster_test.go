package proxy

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBoundedLock: at most n locks are held through boundedLock at once;
// one more waits for a slot within its context, a failed lock frees its
// slot, and unlocking twice frees one slot.
func TestBoundedLock(t *testing.T) {
	fail := errors.New("unreachable")
	lock := boundedLock(func(ctx context.Context, name string) (func(), error) {
		if name == "bad" {
			return nil, fail
		}
		return func() {}, nil
	}, 2)
	ctx := context.Background()
	u1, err1 := lock(ctx, "a")
	_, err2 := lock(ctx, "b")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := lock(short, "c"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third lock with two held: %v, want to wait until its context ends", err)
	}
	u1()
	u1()
	if _, err := lock(ctx, "bad"); !errors.Is(err, fail) {
		t.Fatalf("a failing lock: %v", err)
	}
	if _, err := lock(ctx, "d"); err != nil {
		t.Fatalf("after an unlock and a failed lock a slot is free: %v", err)
	}
	short2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if _, err := lock(short2, "e"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a double unlock freed two slots: %v", err)
	}
}
