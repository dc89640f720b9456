// Package sigv4 verifies AWS Signature Version 4 on incoming control-plane
// requests, the way the CodeArtifact service does for the AWS CLI and SDKs
// (botocore, REST-JSON protocol, signing name "codeartifact").
//
// Only the Authorization header form of SigV4 ("AWS4-HMAC-SHA256
// Credential=..., SignedHeaders=..., Signature=...") is supported; presigned
// URLs (query-string authentication) and SigV4a are rejected with ErrMissing.
//
// The canonical request is rebuilt exactly as AWS does for services other
// than S3: the path as it appeared on the wire is normalized (dot segments
// and empty segments removed) and percent-encoded once more, so an encoded
// "%3A" in the path is signed as "%253A"; query keys and values are decoded
// and re-encoded with the RFC 3986 unreserved set and sorted; header values
// are trimmed and internal whitespace runs collapsed.
package sigv4
