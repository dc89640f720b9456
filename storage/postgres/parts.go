package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// uploader is what an object store offers to upload an object in parts
// while it is still being written (storage/s3's Client: an S3 multipart
// upload, see CreateMultipartUpload, UploadPart, CompleteMultipartUpload
// and AbortMultipartUpload in the S3 API reference).
type uploader interface {
	// PartSize is the size of every part but the last; an object up to it
	// is sent whole.
	PartSize() int64
	CreateUpload(ctx context.Context, key string) (string, error)
	UploadPart(ctx context.Context, key, id string, n int32, r *io.SectionReader) (string, error)
	CompleteUpload(ctx context.Context, key, id string, etags []string) error
	// Discard aborts the uploads of key in progress and deletes the object.
	Discard(ctx context.Context, key string) error
}

const (
	// partWorkers is how many parts of one blob are sent at once.
	partWorkers = 2
	// partQueue is how many parts may wait, written to the spool file but
	// not sent yet, before the writer waits for the object store.
	partQueue = 64
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
)

// uploadKey is a new object key for a blob whose SHA-256 is not known yet
// because it is still being written. Content-addressed keys are 64 hex
// digits; these cannot be mistaken for one.
func uploadKey(domain string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "blobs/" + url.PathEscape(domain) + "/upload-" + hex.EncodeToString(b[:])
}

// partStream sends a blob's parts from its spool file as the file grows,
// in the background, so that when the blob's last byte arrives only its
// last part and the completion remain. The parts are read back from the
// file (the file is the only buffer: memory stays bounded whatever the
// size), at most partWorkers at a time.
//
// Before the upload starts, its key is recorded in the uploads table; the
// row is deleted in the transaction that inserts the blob's row naming
// that key, or by discard. So an upload whose writer died keeps its row,
// and RemoveAbandonedUploads finds it there.
type partStream struct {
	s    *Store
	up   uploader
	f    *os.File
	key  string
	part int64

	ctx    context.Context
	cancel context.CancelCauseFunc
	ready  chan int32    // parts wholly in f, to send
	done   chan struct{} // closed when run has returned
	closer sync.Once     // closes ready
	queued int32         // parts handed to ready; the writer's alone

	id    string // set by run before it reads ready
	mu    sync.Mutex
	etags []string // by part number - 1
}

// startParts starts the upload of f to a new key of domain.
func (s *Store) startParts(ctx context.Context, up uploader, domain string, f *os.File) *partStream {
	ctx, cancel := context.WithCancelCause(ctx)
	p := &partStream{s: s, up: up, f: f, key: uploadKey(domain), part: up.PartSize(),
		ctx: ctx, cancel: cancel, ready: make(chan int32, partQueue), done: make(chan struct{})}
	go p.run()
	return p
}

// run records the upload, starts it and sends the parts handed over until
// ready is closed; the first failure cancels p.ctx with its cause.
func (p *partStream) run() {
	defer close(p.done)
	fail := func(err error) {
		p.cancel(err)
		for range p.ready { // let the writer go on
		}
	}
	if _, err := p.s.pool.Exec(p.ctx, `INSERT INTO uploads (key) VALUES ($1)`, p.key); err != nil {
		fail(failed("recording the upload of "+p.key, err))
		return
	}
	id, err := p.up.CreateUpload(p.ctx, p.key)
	if err != nil {
		fail(err)
		return
	}
	p.id = id
	var wg sync.WaitGroup
	for range partWorkers {
		wg.Go(func() {
			for n := range p.ready {
				if p.ctx.Err() != nil {
					continue
				}
				if err := p.send(n, p.part); err != nil {
					p.cancel(err)
				}
			}
		})
	}
	wg.Wait()
}

// send uploads part n, size bytes of f.
func (p *partStream) send(n int32, size int64) error {
	etag, err := p.up.UploadPart(p.ctx, p.key, p.id, n, io.NewSectionReader(p.f, int64(n-1)*p.part, size))
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.etags) < int(n) {
		p.etags = append(p.etags, "")
	}
	p.etags[n-1] = etag
	return nil
}

// offer hands over the parts that total bytes written to f complete,
// keeping at least one byte for the last part (sent by finish). It waits
// while partQueue parts are waiting; once the upload failed it returns at
// once, and the writer goes on spooling so that its reader (often a tee to
// a client) is not cut.
func (p *partStream) offer(total int64) {
	for total > int64(p.queued+1)*p.part {
		if p.queued+1 >= maxParts {
			p.cancel(fmt.Errorf("a blob of more than %d parts of %d bytes", maxParts-1, p.part))
			return
		}
		select {
		case p.ready <- p.queued + 1:
			p.queued++
		case <-p.ctx.Done():
			return
		}
	}
}

// wait lets the parts handed over be sent and returns the first failure.
func (p *partStream) wait() error {
	p.closer.Do(func() { close(p.ready) })
	<-p.done
	if p.ctx.Err() != nil {
		return context.Cause(p.ctx)
	}
	return nil
}

// finish sends the last part, bytes queued*part to size of f, once the
// others are in, and completes the upload: the object appears at p.key.
func (p *partStream) finish(size int64) error {
	if err := p.wait(); err != nil {
		return err
	}
	if err := p.send(p.queued+1, size-int64(p.queued)*p.part); err != nil {
		return err
	}
	return p.up.CompleteUpload(p.ctx, p.key, p.id, p.etags)
}

// drop stops the upload and discards what it left (the upload or the
// object and the uploads row), unless a blob's row names it by now. A
// failure is logged: RemoveAbandonedUploads retries later.
func (p *partStream) drop(ctx context.Context) {
	p.cancel(errDropped)
	_ = p.wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := p.s.discardUpload(ctx, p.up, p.key); err != nil {
		p.s.log.Warn("discarding an upload; the abandoned-upload job will", "key", p.key, "err", err)
	}
}

var errDropped = errors.New("postgres: upload dropped")

// discardUpload deletes the uploads row of key and, if there was one,
// what the upload left in the object store, in one transaction: a writer
// committing its blob deletes the same row, so exactly one of the two
// goes ahead. It reports whether there was a row.
func (s *Store) discardUpload(ctx context.Context, up uploader, key string) (bool, error) {
	found := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM uploads WHERE key = $1`, key)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		found = true
		return up.Discard(ctx, key)
	})
	if err != nil {
		return false, failed("discarding the upload of "+key, err)
	}
	return found, nil
}

// RemoveAbandonedUploads discards the uploads of blobs (multipart uploads
// in progress, or objects complete but named by no blob) whose writers
// started them more than age ago and neither committed nor discarded them,
// as a replica killed in the middle of WriteBlob does. It returns how many
// it discarded. Writers still at work past age lose their upload and fail.
func (s *Store) RemoveAbandonedUploads(ctx context.Context, age time.Duration) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	up, ok := s.objects.(uploader)
	if !ok {
		return 0, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key FROM uploads WHERE started < clock_timestamp() - make_interval(secs => $1) ORDER BY key`, age.Seconds())
	if err != nil {
		return 0, failed("listing abandoned uploads", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, failed("listing abandoned uploads", err)
	}
	n := 0
	for _, k := range keys {
		found, err := s.discardUpload(ctx, up, k)
		if err != nil {
			return n, err
		}
		if found {
			n++
		}
	}
	return n, nil
}
