// Package s3 keeps blobs' bytes in an S3-compatible object store: objects
// are written whole from a local file (PutObject, or a multipart upload
// completed only once every part is in, aborted otherwise), or part by part
// through the multipart calls while the caller is still writing the file;
// read as a stream, listed and deleted. What an object means is the
// caller's business; storage/postgres keys them by content, or by upload
// for those it uploads in parts before their digest is known.
//
// The API is Amazon S3's (https://docs.aws.amazon.com/AmazonS3/latest/API/),
// spoken through aws-sdk-go-v2; any server that implements those calls
// works, path-style addressing included.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stockpile-proxy/stockpile/storage"
)

// Options configure a Client; they are storage.s3 in the configuration.
type Options struct {
	// Endpoint is the server's URL; empty means AWS's own endpoint for
	// Region.
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	Bucket   string `yaml:"bucket"`
	// Prefix is put before every object key ("stockpile/" keeps the
	// objects of several installations in one bucket apart).
	Prefix string `yaml:"prefix"`
	// AccessKeyID and SecretAccessKey, when empty, come from the usual
	// AWS environment variables.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// rather than the host name, as most self-hosted servers need.
	PathStyle bool `yaml:"path_style"`
	// CacheDir and CacheSize bound each replica's local disk cache of blobs;
	// storage/postgres uses them.
	CacheDir  string           `yaml:"cache_dir"`
	CacheSize storage.ByteSize `yaml:"cache_size"`
	// PartSize is the size of a multipart upload's parts; objects up to it
	// are sent in one PutObject. Zero means DefaultPartSize.
	PartSize storage.ByteSize `yaml:"part_size"`
	// AbandonedUploadAge is how old a multipart upload under Prefix must
	// be for storage/postgres to abort it as abandoned (its writer died);
	// zero never aborts any.
	AbandonedUploadAge time.Duration `yaml:"abandoned_upload_age"`
}

// DefaultPartSize is the part size of multipart uploads. S3 wants parts of
// at least 5 MiB, except the last, and at most 10,000 of them.
const DefaultPartSize = 16 << 20

// Client reads and writes the objects of one bucket under one prefix.
type Client struct {
	api      *awss3.Client
	bucket   string
	prefix   string
	partSize int64
}

// New makes a client. getenv (usually os.Getenv) supplies AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION when the options
// leave them out. hc may be nil.
func New(o Options, getenv func(string) string, hc *http.Client) (*Client, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3: bucket is empty")
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	id, secret, token := o.AccessKeyID, o.SecretAccessKey, ""
	if id == "" && secret == "" {
		id, secret, token = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	}
	if id == "" || secret == "" {
		return nil, errors.New("s3: no credentials: set storage.s3.access_key_id and secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	region := o.Region
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	part := int64(o.PartSize)
	if part == 0 {
		part = DefaultPartSize
	}
	if part < 5<<20 {
		return nil, fmt.Errorf("s3: part_size %d is under S3's 5 MiB minimum", part)
	}
	opts := awss3.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		UsePathStyle: o.PathStyle,
		// Stockpile hashes every blob itself; the SDK's optional CRC
		// checksums are sent only where an operation requires them, which
		// every S3-compatible server understands.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if o.Endpoint != "" {
		opts.BaseEndpoint = aws.String(o.Endpoint)
	}
	if hc != nil {
		opts.HTTPClient = hc
	}
	return &Client{api: awss3.New(opts), bucket: o.Bucket, prefix: o.Prefix, partSize: part}, nil
}

// EnsureBucket creates the bucket if it does not exist.
func (c *Client) EnsureBucket(ctx context.Context) error {
	_, err := c.api.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &c.bucket})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return failed("bucket "+c.bucket, err)
	}
	_, err = c.api.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &c.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return failed("creating bucket "+c.bucket, err)
	}
	return nil
}

// Check reports whether the bucket answers (a HeadBucket); an error wraps
// storage.ErrUnavailable when the server could not be reached.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.api.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &c.bucket}); err != nil {
		return failed("bucket "+c.bucket, err)
	}
	return nil
}

// Put stores the first size bytes of f as the object key, replacing any
// object there. The object appears whole or not at all: a single PutObject,
// or a multipart upload that is completed only after every part is in and
// aborted on any failure.
func (c *Client) Put(ctx context.Context, key string, f io.ReaderAt, size int64) error {
	k := c.prefix + key
	if size <= c.partSize {
		_, err := c.api.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: &c.bucket, Key: &k, Body: io.NewSectionReader(f, 0, size), ContentLength: aws.Int64(size),
		})
		if err != nil {
			return failed("putting "+k, err)
		}
		return nil
	}
	return c.multipart(ctx, key, f, size)
}

func (c *Client) multipart(ctx context.Context, key string, f io.ReaderAt, size int64) error {
	id, err := c.CreateUpload(ctx, key)
	if err != nil {
		return err
	}
	var etags []string
	for off, n := int64(0), int32(1); off < size; off, n = off+c.partSize, n+1 {
		etag, err := c.UploadPart(ctx, key, id, n, io.NewSectionReader(f, off, min(c.partSize, size-off)))
		if err == nil {
			etags = append(etags, etag)
		} else {
			c.abortAfter(ctx, key, id)
			return err
		}
	}
	if err := c.CompleteUpload(ctx, key, id, etags); err != nil {
		c.abortAfter(ctx, key, id)
		return err
	}
	return nil
}

// abortAfter aborts an upload after a failure, even when ctx is what
// failed.
func (c *Client) abortAfter(ctx context.Context, key, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = c.AbortUpload(actx, key, id)
}

// PartSize is the size of a multipart upload's parts: objects up to it are
// sent in one PutObject.
func (c *Client) PartSize() int64 { return c.partSize }

// CreateUpload starts a multipart upload of the object key and returns its
// id. Nothing is readable at key until CompleteUpload; an upload neither
// completed nor aborted is listed by ListMultipartUploads and aborted by
// AbortUploads once old enough.
func (c *Client) CreateUpload(ctx context.Context, key string) (string, error) {
	k := c.prefix + key
	up, err := c.api.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &c.bucket, Key: &k})
	if err != nil {
		return "", failed("starting the upload of "+k, err)
	}
	return aws.ToString(up.UploadId), nil
}

// UploadPart sends part n (from 1) of the upload id of key, the bytes of r
// (seekable, as signing the request reads them twice), and returns the
// part's ETag. Every part but the last must be at least 5 MiB; parts may
// be sent concurrently and in any order.
func (c *Client) UploadPart(ctx context.Context, key, id string, n int32, r *io.SectionReader) (string, error) {
	k := c.prefix + key
	out, err := c.api.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket: &c.bucket, Key: &k, UploadId: &id, PartNumber: aws.Int32(n),
		Body: r, ContentLength: aws.Int64(r.Size()),
	})
	if err != nil {
		return "", failed(fmt.Sprintf("uploading part %d of %s", n, k), err)
	}
	return aws.ToString(out.ETag), nil
}

// CompleteUpload makes the object key of the upload id's parts, whose
// ETags are etags in part order (part 1 first); the object appears whole,
// at once.
func (c *Client) CompleteUpload(ctx context.Context, key, id string, etags []string) error {
	k := c.prefix + key
	parts := make([]types.CompletedPart, len(etags))
	for i, e := range etags {
		parts[i] = types.CompletedPart{ETag: aws.String(e), PartNumber: aws.Int32(int32(i + 1))}
	}
	_, err := c.api.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: &c.bucket, Key: &k, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return failed("completing the upload of "+k, err)
	}
	return nil
}

// AbortUpload aborts the upload id of key and frees its parts; an upload
// that no longer exists is not an error.
func (c *Client) AbortUpload(ctx context.Context, key, id string) error {
	k := c.prefix + key
	_, err := c.api.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: &k, UploadId: &id})
	if err != nil && !isNoSuchUpload(err) {
		return failed("aborting the upload of "+k, err)
	}
	return nil
}

// Discard removes whatever a writer of key left: it aborts every upload of
// key in progress and deletes the object.
func (c *Client) Discard(ctx context.Context, key string) error {
	k := c.prefix + key
	err := c.ListUploads(ctx, key, func(u Upload) error {
		if u.Key != key {
			return nil
		}
		return c.AbortUpload(ctx, key, u.ID)
	})
	if err != nil {
		return err
	}
	if _, err := c.api.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &c.bucket, Key: &k}); err != nil && !isNotFound(err) {
		return failed("deleting "+k, err)
	}
	return nil
}

// Upload is a multipart upload in progress; Key is without the client's
// prefix.
type Upload struct {
	Key       string
	ID        string
	Initiated time.Time
}

// ListUploads calls fn for every multipart upload in progress whose key
// starts with prefix (after the client's prefix). An error from fn stops
// the listing and is returned.
func (c *Client) ListUploads(ctx context.Context, prefix string, fn func(Upload) error) error {
	p := c.prefix + prefix
	in := &awss3.ListMultipartUploadsInput{Bucket: &c.bucket, Prefix: aws.String(p)}
	for {
		page, err := c.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return failed("listing the uploads under "+p, err)
		}
		for _, u := range page.Uploads {
			k := aws.ToString(u.Key)
			if len(k) < len(c.prefix) || k[:len(c.prefix)] != c.prefix {
				continue
			}
			if err := fn(Upload{Key: k[len(c.prefix):], ID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(page.IsTruncated) || (page.NextKeyMarker == nil && page.NextUploadIdMarker == nil) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// ListParts returns how many parts of the upload id of key the server holds.
func (c *Client) ListParts(ctx context.Context, key, id string) (int, error) {
	k := c.prefix + key
	n := 0
	pages := awss3.NewListPartsPaginator(c.api, &awss3.ListPartsInput{Bucket: &c.bucket, Key: &k, UploadId: &id})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return n, failed("listing the parts of "+k, err)
		}
		n += len(page.Parts)
	}
	return n, nil
}

// Get opens the object key for reading, or returns storage.ErrNotFound.
func (c *Client) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	k := c.prefix + key
	out, err := c.api.GetObject(ctx, &awss3.GetObjectInput{Bucket: &c.bucket, Key: &k})
	if err != nil {
		if isNotFound(err) {
			return nil, 0, fmt.Errorf("s3: %s: %w", k, storage.ErrNotFound)
		}
		return nil, 0, failed("getting "+k, err)
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

// Delete removes the object key; an absent object is not an error.
func (c *Client) Delete(ctx context.Context, key string) error {
	k := c.prefix + key
	if _, err := c.api.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &c.bucket, Key: &k}); err != nil && !isNotFound(err) {
		return failed("deleting "+k, err)
	}
	return nil
}

// AbortUploads aborts every multipart upload under the client's prefix
// that was started before cutoff, and returns how many it aborted. An
// upload is left behind when the process writing it dies between its
// start and its completion or abort; its parts take space (and, on AWS,
// cost) until it is aborted. Uploads started after cutoff may be in
// progress and are left alone. See ListMultipartUploads and
// AbortMultipartUpload in the S3 API reference; an upload that vanished
// in the meantime (aborted or completed elsewhere) is not an error.
func (c *Client) AbortUploads(ctx context.Context, cutoff time.Time) (int, error) {
	aborted := 0
	err := c.ListUploads(ctx, "", func(u Upload) error {
		if u.Initiated.IsZero() || !u.Initiated.Before(cutoff) {
			return nil
		}
		if err := c.AbortUpload(ctx, u.Key, u.ID); err != nil {
			return err
		}
		aborted++
		return nil
	})
	return aborted, err
}

// isNoSuchUpload reports whether err is S3's answer for an upload that no
// longer exists.
func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsu) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload"
}

// Object is one listed object; Key is without the client's prefix.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// List calls fn for every object whose key starts with prefix, in key
// order. An error from fn stops the listing and is returned.
func (c *Client) List(ctx context.Context, prefix string, fn func(Object) error) error {
	p := c.prefix + prefix
	pages := awss3.NewListObjectsV2Paginator(c.api, &awss3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &p})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return failed("listing "+p, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if err := fn(Object{Key: k[len(c.prefix):], Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// failed wraps the error of operation op, adding storage.ErrUnavailable
// when the object store could not be reached or answered with a server
// error (5xx: InternalError, ServiceUnavailable, SlowDown) once the SDK's
// retries were spent: the same call may succeed later.
func failed(op string, err error) error {
	if unreachable(err) {
		return fmt.Errorf("s3: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("s3: %s: %w", op, err)
}

func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 { // 0: no answer came
		return re.HTTPStatusCode() >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isNotFound reports whether err is S3's answer for a missing key or
// bucket.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nsb) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket":
			return true
		}
	}
	return false
}
