// Package s3 keeps blobs' bytes in an S3-compatible object store: objects
// are written whole from a local file (PutObject, or a multipart upload
// completed only once every part is in, aborted otherwise), read as a
// stream, listed and deleted. What an object means is the caller's
// business; storage/postgres keys them by content.
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
	return c.multipart(ctx, k, f, size)
}

func (c *Client) multipart(ctx context.Context, k string, f io.ReaderAt, size int64) error {
	up, err := c.api.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &c.bucket, Key: &k})
	if err != nil {
		return failed("starting the upload of "+k, err)
	}
	abort := func(cause error) error {
		// The abort must run even when ctx is what failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = c.api.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: &k, UploadId: up.UploadId})
		return failed("uploading "+k, cause)
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+c.partSize, n+1 {
		l := min(c.partSize, size-off)
		out, err := c.api.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket: &c.bucket, Key: &k, UploadId: up.UploadId, PartNumber: aws.Int32(n),
			Body: io.NewSectionReader(f, off, l), ContentLength: aws.Int64(l),
		})
		if err != nil {
			return abort(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = c.api.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: &c.bucket, Key: &k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(err)
	}
	return nil
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
	in := &awss3.ListMultipartUploadsInput{Bucket: &c.bucket, Prefix: aws.String(c.prefix)}
	aborted := 0
	for {
		page, err := c.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return aborted, failed("listing the uploads under "+c.prefix, err)
		}
		for _, u := range page.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(cutoff) {
				continue
			}
			_, err := c.api.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: u.Key, UploadId: u.UploadId})
			if err != nil && !isNoSuchUpload(err) {
				return aborted, failed("aborting the upload of "+aws.ToString(u.Key), err)
			}
			if err == nil {
				aborted++
			}
		}
		if !aws.ToBool(page.IsTruncated) || (page.NextKeyMarker == nil && page.NextUploadIdMarker == nil) {
			return aborted, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
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
