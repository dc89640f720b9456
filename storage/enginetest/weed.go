package enginetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// The credentials of the S3 server's only identity.
const (
	weedKey    = "stockpile-test"
	weedSecret = "stockpile-test-secret"
)

// Weed is a throwaway SeaweedFS server (`weed mini`: master, volume, filer
// and S3 gateway in one process) on 127.0.0.1, every port given, telemetry,
// WebDAV, the admin UI and the Iceberg and Lance catalogs off.
type Weed struct {
	bin     string
	dir     string
	s3Port  int
	ports   []int
	buckets atomic.Int64

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
}

// StartWeed starts weed in a temporary directory and waits until its S3
// gateway answers.
func StartWeed() (*Weed, error) {
	bin := os.Getenv("STOCKPILE_WEED")
	if bin == "" {
		p, err := exec.LookPath("weed")
		if err != nil {
			return nil, errors.New("no weed binary: set STOCKPILE_WEED or put SeaweedFS's weed on PATH (.ci/run builds it from .ci/weed)")
		}
		bin = p
	}
	dir, err := os.MkdirTemp("", "stockpile-weed-")
	if err != nil {
		return nil, err
	}
	w := &Weed{bin: bin, dir: dir}
	for range 9 {
		p, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		w.ports = append(w.ports, p)
	}
	w.s3Port = w.ports[6]
	identities := fmt.Sprintf(`{"identities":[{"name":"stockpile","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","List","Tagging","Write"]}]}`, weedKey, weedSecret)
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(identities), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := w.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return w, nil
}

// Start starts the server (again, after Stop) on the same ports and data.
func (w *Weed) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd != nil {
		return errors.New("weed: already running")
	}
	port := func(i int) string { return strconv.Itoa(w.ports[i]) }
	data := filepath.Join(w.dir, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(w.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(w.bin, "mini", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+port(0), "-master.port.grpc="+port(1), "-master.telemetry=false",
		"-volume.port="+port(2), "-volume.port.grpc="+port(3),
		"-filer.port="+port(4), "-filer.port.grpc="+port(5),
		"-s3.port="+port(6), "-s3.port.grpc="+port(7), "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+filepath.Join(w.dir, "s3.json"), "-webdav=false", "-admin.ui=false",
		"-admin.port="+port(8), "-admin.port.legacy=0")
	cmd.Dir = w.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting weed: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c, err := s3.New(w.options("stockpile-ready"), nil, nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.EnsureBucket(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(filepath.Join(w.dir, "log"))
			return fmt.Errorf("weed exited at start (%v): %s", werr, tail(log))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			log, _ := os.ReadFile(filepath.Join(w.dir, "log"))
			return fmt.Errorf("weed's S3 gateway did not answer within 90s: %v: %s", err, tail(log))
		}
	}
	w.cmd, w.exited = cmd, exited
	return nil
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// Stop stops the server and waits for it to exit.
func (w *Weed) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	stopped(w.cmd, w.exited, 15*time.Second)
	w.cmd = nil
}

// Close stops the server and removes its files.
func (w *Weed) Close() {
	w.Stop()
	os.RemoveAll(w.dir)
}

// Endpoint is the S3 gateway's URL.
func (w *Weed) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", w.s3Port) }

func (w *Weed) options(bucket string) s3.Options {
	return s3.Options{Endpoint: w.Endpoint(), Region: "us-east-1", Bucket: bucket,
		AccessKeyID: weedKey, SecretAccessKey: weedSecret, PathStyle: true}
}

// NewBucket creates an empty bucket for t and returns the options that
// reach it (without a cache directory).
func (w *Weed) NewBucket(t testing.TB) s3.Options {
	t.Helper()
	o := w.options(fmt.Sprintf("test-%d", w.buckets.Add(1)))
	c, err := s3.New(o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.EnsureBucket(ctx); err != nil {
		t.Fatalf("creating bucket %s: %v", o.Bucket, err)
	}
	return o
}

// S3Options returns the options that reach bucket on this server as its
// only identity (without a cache directory), for what is not a test:
// stockpile-bench's cluster scenario writes them into its replicas'
// configuration.
func (w *Weed) S3Options(bucket string) s3.Options { return w.options(bucket) }
