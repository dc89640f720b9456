// Package cpclient calls a Stockpile's control plane (CodeArtifact's API,
// https://docs.aws.amazon.com/codeartifact/latest/APIReference/) with
// requests signed by Signature Version 4, as the AWS CLI sends them.
package cpclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/internal/awscreds"
	"github.com/stockpile-proxy/stockpile/proxy/sigv4"
)

// maxAnswer bounds what is read of one answer.
const maxAnswer = 16 << 20

// Client is a signed control-plane client.
type Client struct {
	// Endpoint is the server's base URL, http://host:port.
	Endpoint string
	Creds    awscreds.Credentials
	HTTP     *http.Client
	Now      func() time.Time
	// MaxAnswer bounds what Call and Send read of one answer; 0 means
	// 16 MiB. Open streams the answer without a bound.
	MaxAnswer int64
}

// APIError is an error answer: its HTTP status, the AWS error type
// (x-amzn-ErrorType) and message.
type APIError struct {
	Status  int
	Type    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// Call sends one request to path (below the endpoint) with query q and a
// JSON body (nil for none) and returns the answer's body.
func (c *Client) Call(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, error) {
	resp, err := c.do(ctx, method, path, q, bytes.NewReader(body), int64(len(body)), sigv4Hash(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return c.read(method, path, resp.Body)
}

// Open sends a request without a body and returns the answer's body
// unread, for the caller to stream (an asset of GetPackageVersionAsset);
// MaxAnswer does not apply.
func (c *Client) Open(ctx context.Context, method, path string, q url.Values) (io.ReadCloser, error) {
	resp, err := c.do(ctx, method, path, q, http.NoBody, 0, sigv4Hash(nil))
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Send sends a body of size bytes whose hex SHA-256 is sum without
// holding it (an asset for PublishPackageVersion, which the server checks
// against the signed sum as it reads it) and returns the answer's body.
func (c *Client) Send(ctx context.Context, method, path string, q url.Values, body io.Reader, size int64, sum string) ([]byte, error) {
	resp, err := c.do(ctx, method, path, q, body, size, sum)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return c.read(method, path, resp.Body)
}

// do signs and sends a request whose body has size bytes and the SHA-256
// payloadHash; an answer other than 200 is read and returned as an
// *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, size int64, payloadHash string) (*http.Response, error) {
	u := strings.TrimRight(c.Endpoint, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.Creds.SessionToken)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if err := sigv4.SignPayload(req, payloadHash, c.Creds.AccessKeyID, c.Creds.SecretAccessKey, c.Creds.Region, now()); err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(raw, &e)
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(raw))
	}
	return nil, &APIError{Status: resp.StatusCode, Type: resp.Header.Get("x-amzn-ErrorType"), Message: e.Message}
}

// read reads an answer's body, at most MaxAnswer bytes.
func (c *Client) read(method, path string, body io.Reader) ([]byte, error) {
	limit := c.MaxAnswer
	if limit <= 0 {
		limit = maxAnswer
	}
	raw, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, limit)
	}
	return raw, nil
}

// sigv4Hash is the hex SHA-256 of a body held in memory.
func sigv4Hash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Caller sends one signed control-plane call; *Client is one.
type Caller interface {
	Call(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, error)
}

// CallJSON sends in (when not nil) as the JSON body of a call through c and
// decodes the answer into out (when not nil).
func CallJSON(ctx context.Context, c Caller, method, path string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	raw, err := c.Call(ctx, method, path, q, body)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// callJSON is CallJSON through c.
func (c *Client) callJSON(ctx context.Context, method, path string, q url.Values, in, out any) error {
	return CallJSON(ctx, c, method, path, q, in, out)
}

// AuthorizationToken calls GetAuthorizationToken for domain; a zero
// duration asks for the server's default lifetime.
func (c *Client) AuthorizationToken(ctx context.Context, domain string, d time.Duration) (string, time.Time, error) {
	q := url.Values{"domain": {domain}}
	if d != 0 {
		q.Set("duration", strconv.FormatInt(int64(d/time.Second), 10))
	}
	var out struct {
		Token      string  `json:"authorizationToken"`
		Expiration float64 `json:"expiration"`
	}
	if err := c.callJSON(ctx, http.MethodPost, "/v1/authorization-token", q, nil, &out); err != nil {
		return "", time.Time{}, err
	}
	if out.Token == "" {
		return "", time.Time{}, errors.New("GetAuthorizationToken: empty token")
	}
	return out.Token, time.Unix(int64(out.Expiration), 0), nil
}

// RepositoryEndpoint calls GetRepositoryEndpoint: the URL a package
// manager of format uses for the repository.
func (c *Client) RepositoryEndpoint(ctx context.Context, domain, repo, format string) (string, error) {
	var out struct {
		Endpoint string `json:"repositoryEndpoint"`
	}
	q := url.Values{"domain": {domain}, "repository": {repo}, "format": {format}}
	if err := c.callJSON(ctx, http.MethodGet, "/v1/repository/endpoint", q, nil, &out); err != nil {
		return "", err
	}
	return out.Endpoint, nil
}

// Repository is what DescribeRepository tells of a repository.
type Repository struct {
	Name                string
	Upstreams           []string
	ExternalConnections []string
}

// IsNotFound reports whether err is a ResourceNotFoundException.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Type == "ResourceNotFoundException"
}

// DescribeRepository calls DescribeRepository.
func (c *Client) DescribeRepository(ctx context.Context, domain, repo string) (Repository, error) {
	return DescribeRepository(ctx, c, domain, repo)
}

// DescribeRepository calls DescribeRepository through c: a repository's
// upstreams and external connections.
func DescribeRepository(ctx context.Context, c Caller, domain, repo string) (Repository, error) {
	var out struct {
		Repository struct {
			Name      string `json:"name"`
			Upstreams []struct {
				RepositoryName string `json:"repositoryName"`
			} `json:"upstreams"`
			ExternalConnections []struct {
				Name string `json:"externalConnectionName"`
			} `json:"externalConnections"`
		} `json:"repository"`
	}
	q := url.Values{"domain": {domain}, "repository": {repo}}
	if err := CallJSON(ctx, c, http.MethodGet, "/v1/repository", q, nil, &out); err != nil {
		return Repository{}, err
	}
	r := Repository{Name: out.Repository.Name}
	for _, u := range out.Repository.Upstreams {
		r.Upstreams = append(r.Upstreams, u.RepositoryName)
	}
	for _, x := range out.Repository.ExternalConnections {
		r.ExternalConnections = append(r.ExternalConnections, x.Name)
	}
	return r, nil
}

// CreateRepository calls CreateRepository without upstreams.
func (c *Client) CreateRepository(ctx context.Context, domain, repo, description string) error {
	q := url.Values{"domain": {domain}, "repository": {repo}}
	var out map[string]any
	return c.callJSON(ctx, http.MethodPost, "/v1/repository", q, map[string]any{"description": description}, &out)
}

// AssociateExternalConnection calls AssociateExternalConnection.
func (c *Client) AssociateExternalConnection(ctx context.Context, domain, repo, conn string) error {
	q := url.Values{"domain": {domain}, "repository": {repo}, "external-connection": {conn}}
	var out map[string]any
	return c.callJSON(ctx, http.MethodPost, "/v1/repository/external-connection", q, nil, &out)
}

// SetUpstreams calls UpdateRepository with the upstreams only (the
// description is left as it is).
func (c *Client) SetUpstreams(ctx context.Context, domain, repo string, upstreams []string) error {
	list := make([]map[string]string, 0, len(upstreams))
	for _, u := range upstreams {
		list = append(list, map[string]string{"repositoryName": u})
	}
	q := url.Values{"domain": {domain}, "repository": {repo}}
	var out map[string]any
	return c.callJSON(ctx, http.MethodPut, "/v1/repository", q, map[string]any{"upstreams": list}, &out)
}

// ListRepositoriesInDomain lists the names of a domain's repositories,
// every page.
func (c *Client) ListRepositoriesInDomain(ctx context.Context, domain string) ([]string, error) {
	var names []string
	next := ""
	for {
		q := url.Values{"domain": {domain}}
		if next != "" {
			q.Set("next-token", next)
		}
		var out struct {
			Repositories []struct {
				Name string `json:"name"`
			} `json:"repositories"`
			NextToken string `json:"nextToken"`
		}
		if err := c.callJSON(ctx, http.MethodPost, "/v1/domain/repositories", q, nil, &out); err != nil {
			return nil, err
		}
		for _, r := range out.Repositories {
			names = append(names, r.Name)
		}
		if out.NextToken == "" || out.NextToken == next {
			return names, nil
		}
		next = out.NextToken
	}
}
