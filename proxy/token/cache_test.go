package token

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable clock shared by an issuer and its cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// countingVerifier counts the verifications that reach the issuer.
type countingVerifier struct {
	*Issuer
	calls atomic.Int64
}

func (v *countingVerifier) Verify(tok string) (Claims, error) {
	v.calls.Add(1)
	return v.Issuer.Verify(tok)
}

func newCacheFixture(t *testing.T, key []byte) (*clock, *countingVerifier, *Cache) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	iss, err := NewIssuer(key, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	v := &countingVerifier{Issuer: iss}
	return clk, v, NewCache(v, 16, clk.now)
}

func TestCacheVerifiesOncePerToken(t *testing.T) {
	_, v, c := newCacheFixture(t, testKey)
	tok, _ := v.Mint("acme", "AKID", time.Hour)
	for i := range 5 {
		cl, err := c.Verify(tok)
		if err != nil {
			t.Fatalf("Verify #%d: %v", i, err)
		}
		if cl.Domain != "acme" || cl.Principal != "AKID" {
			t.Fatalf("claims = %+v", cl)
		}
	}
	if n := v.calls.Load(); n != 1 {
		t.Errorf("the issuer verified %d times, want 1", n)
	}
}

func TestCacheExpiry(t *testing.T) {
	clk, v, c := newCacheFixture(t, testKey)
	tok, _ := v.Mint("acme", "AKID", 10*time.Minute)
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.add(10*time.Minute - time.Second)
	if _, err := c.Verify(tok); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	clk.add(time.Second)
	if _, err := c.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: err = %v, want ErrExpired", err)
	}
	if n := c.Len(); n != 0 {
		t.Errorf("an expired token is still remembered (%d entries)", n)
	}
	if n := v.calls.Load(); n != 2 {
		t.Errorf("the issuer verified %d times, want 2 (first use, after expiry)", n)
	}
}

func TestCacheRefusalsNotRemembered(t *testing.T) {
	_, v, c := newCacheFixture(t, testKey)
	tok, _ := v.Mint("acme", "AKID", time.Hour)
	tampered := tok[:len(tok)-2] + "AA"
	if tampered == tok {
		tampered = tok[:len(tok)-2] + "BB"
	}
	for _, bad := range []string{"", "x.y", tampered, string(bytes.Repeat([]byte("a"), MaxTokenLen+1))} {
		for range 2 {
			if _, err := c.Verify(bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%.20q) = %v, want ErrInvalid", bad, err)
			}
		}
	}
	if n := c.Len(); n != 0 {
		t.Errorf("%d refused tokens remembered", n)
	}
}

func TestCacheDroppedWhenTheKeyChanges(t *testing.T) {
	clk, v, c := newCacheFixture(t, testKey)
	tok, _ := v.Mint("acme", "AKID", time.Hour)
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	other, err := NewIssuer(bytes.Repeat([]byte("o"), MinKeyLen), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	c.Use(other)
	if _, err := c.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a token of the old key after Use: err = %v, want ErrInvalid", err)
	}
	fresh, _ := other.Mint("acme", "AKID", time.Hour)
	if _, err := c.Verify(fresh); err != nil {
		t.Fatalf("a token of the new key: %v", err)
	}
}

func TestCacheReset(t *testing.T) {
	_, v, c := newCacheFixture(t, testKey)
	tok, _ := v.Mint("acme", "AKID", time.Hour)
	_, _ = c.Verify(tok)
	c.Reset()
	if n := c.Len(); n != 0 {
		t.Fatalf("after Reset: %d entries", n)
	}
	_, _ = c.Verify(tok)
	if n := v.calls.Load(); n != 2 {
		t.Errorf("the issuer verified %d times, want 2 (before and after Reset)", n)
	}
}

func TestCacheBounded(t *testing.T) {
	clk, v, c := newCacheFixture(t, testKey)
	short, _ := v.Mint("acme", "short", time.Minute)
	if _, err := c.Verify(short); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Minute)
	for i := range 100 {
		tok, _ := v.Mint("acme", fmt.Sprint("p", i), time.Hour)
		if _, err := c.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if n := c.Len(); n > 16 {
			t.Fatalf("%d entries, bound 16", n)
		}
	}
	// The newest token is always kept.
	last, _ := v.Mint("acme", "last", time.Hour)
	_, _ = c.Verify(last)
	before := v.calls.Load()
	_, _ = c.Verify(last)
	if v.calls.Load() != before {
		t.Error("the token just verified was not remembered")
	}
}

func TestCacheConcurrent(t *testing.T) {
	clk, v, c := newCacheFixture(t, testKey)
	toks := make([]string, 40)
	for i := range toks {
		toks[i], _ = v.Mint("acme", fmt.Sprint("p", i), time.Hour)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if _, err := c.Verify(toks[(g+i)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
				if g == 0 && i%100 == 0 {
					c.Reset()
					clk.add(time.Second)
				}
			}
		}()
	}
	wg.Wait()
}
