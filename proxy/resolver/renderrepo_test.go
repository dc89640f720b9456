package resolver

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
)

func repoDocResolver() *Resolver {
	return &Resolver{repoDocs: newBoundedCache(maxRepoDocs, 1<<20, (*repoDoc).size)}
}

// TestRenderRepository checks that a repository-wide document is rebuilt
// exactly when its inputs' fingerprint changes, and that a failure to read
// the inputs leaves the kept document alone.
func TestRenderRepository(t *testing.T) {
	r := repoDocResolver()
	ref := formats.RepoRef{Domain: "d", Repository: "r"}
	builds := 0
	inputs := func(fp string, err error) formats.RepositoryInputs {
		return func(context.Context) (string, func() (*formats.Rendered, error), error) {
			return fp, func() (*formats.Rendered, error) {
				builds++
				return &formats.Rendered{Body: []byte(fp + " build " + strconv.Itoa(builds)), ContentType: "text/plain"}, nil
			}, err
		}
	}
	tests := []struct {
		name     string
		fp       string
		err      error
		wantBody string
	}{
		{"first call builds", "a", nil, "a build 1"},
		{"same inputs, same bytes", "a", nil, "a build 1"},
		{"changed inputs rebuild", "b", nil, "b build 2"},
		{"inputs that fail are an error", "c", errors.New("upstream down"), ""},
		{"the kept document survives a failure", "b", nil, "b build 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := r.RenderRepository(context.Background(), ref, "v", inputs(tt.fp, tt.err))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(doc.Body) != tt.wantBody {
				t.Errorf("body %q, want %q", doc.Body, tt.wantBody)
			}
			if doc.ETag == "" || doc.Gzip != nil {
				t.Errorf("ETag %q, Gzip %d bytes: want an ETag and no Gzip", doc.ETag, len(doc.Gzip))
			}
		})
	}
	other, err := r.RenderRepository(context.Background(), formats.RepoRef{Domain: "d", Repository: "other"}, "v", inputs("b", nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(other.Body) != "b build 3" {
		t.Errorf("another repository got %q: documents are kept per repository", other.Body)
	}
}

// TestRenderRepositoryDetached checks that a caller giving up neither
// cancels the build it started nor fails the callers waiting for it.
func TestRenderRepositoryDetached(t *testing.T) {
	r := repoDocResolver()
	ref := formats.RepoRef{Domain: "d", Repository: "r"}
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	inputs := func(ctx context.Context) (string, func() (*formats.Rendered, error), error) {
		once.Do(func() { close(started) })
		<-release
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		return "a", func() (*formats.Rendered, error) { return &formats.Rendered{Body: []byte("doc")}, nil }, nil
	}
	gone, cancel := context.WithCancel(context.Background())
	quit := make(chan error, 1)
	go func() {
		_, err := r.RenderRepository(gone, ref, "v", inputs)
		quit <- err
	}()
	<-started
	const waiters = 4
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc, err := r.RenderRepository(context.Background(), ref, "v", inputs)
			if err == nil && string(doc.Body) != "doc" {
				err = errors.New("body " + string(doc.Body))
			}
			errs <- err
		}()
	}
	cancel()
	if err := <-quit; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that gave up got %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a waiting caller: %v", err)
		}
	}
	// The flight the first caller started ran to its end and kept its
	// document: the next call finds it without building.
	doc, err := r.RenderRepository(context.Background(), ref, "v", func(context.Context) (string, func() (*formats.Rendered, error), error) {
		return "a", func() (*formats.Rendered, error) { return nil, errors.New("built again") }, nil
	})
	if err != nil || string(doc.Body) != "doc" {
		t.Errorf("after the flight: %v, %v; want the kept document", doc, err)
	}
}
