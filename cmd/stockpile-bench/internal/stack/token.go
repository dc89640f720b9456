package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/sigv4"
)

// AccessKey is a control-plane credential (auth.access_keys).
type AccessKey = proxy.AccessKey

// NewAccessKey returns a random access key for one run.
func NewAccessKey() *AccessKey {
	var id, secret [16]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(secret[:])
	return &AccessKey{ID: "AKIDBENCH" + hex.EncodeToString(id[:6]), Secret: hex.EncodeToString(secret[:])}
}

// MintToken asks Stockpile at base (http://127.0.0.1:PORT) for a token of
// domain as a client does: GetAuthorizationToken, signed with key
// (Signature Version 4, as the AWS CLI signs it).
func MintToken(ctx context.Context, c *http.Client, base, domain string, key *AccessKey) (string, error) {
	u := base + "/v1/authorization-token?domain=" + url.QueryEscape(domain) + "&duration=43200"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(nil))
	if err != nil {
		return "", err
	}
	if err := sigv4.Sign(req, nil, key.ID, key.Secret, "us-east-1", time.Now()); err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("GetAuthorizationToken: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("GetAuthorizationToken: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GetAuthorizationToken: %d %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var out struct {
		Token string `json:"authorizationToken"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("GetAuthorizationToken: no token in %q", body)
	}
	return out.Token, nil
}
