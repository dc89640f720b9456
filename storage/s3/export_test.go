package s3

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// StartUpload starts a multipart upload of key and sends its first part,
// then leaves it, as a process killed in the middle of Put does.
func (c *Client) StartUpload(ctx context.Context, key string) error {
	k := c.prefix + key
	up, err := c.api.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &c.bucket, Key: &k})
	if err != nil {
		return err
	}
	part := bytes.Repeat([]byte{'x'}, 5<<20)
	_, err = c.api.UploadPart(ctx, &awss3.UploadPartInput{Bucket: &c.bucket, Key: &k, UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))})
	return err
}
