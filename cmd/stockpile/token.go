package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/sigv4"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

const tokenUsage = `usage:
  stockpile token create --endpoint-url URL --domain D --name N --repositories R1,R2 [--access read|read+publish] [--duration 2160h]
  stockpile token list   --endpoint-url URL --domain D
  stockpile token revoke --endpoint-url URL --domain D --name N

Calls are signed with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (region
AWS_REGION or AWS_DEFAULT_REGION, us-east-1 by default), as the AWS CLI signs.
The secret of a new token is printed once; it is not stored.`

// tokenCommand manages scoped long-lived tokens through the control plane.
func tokenCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return errors.New("token: no subcommand")
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint-url", "", "Stockpile's URL, e.g. http://127.0.0.1:8080")
	domain := fs.String("domain", "", "domain of the token")
	name := fs.String("name", "", "name of the token")
	repos := fs.String("repositories", "", "comma-separated repositories the token may use")
	accessLevel := fs.String("access", "read", "read or read+publish")
	duration := fs.Duration("duration", 90*24*time.Hour, "lifetime (at most a year, 8784h)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *endpoint == "" || *domain == "" {
		return errors.New("token: --endpoint-url and --domain are required")
	}
	q := url.Values{"domain": {*domain}}
	var method, path string
	var body []byte
	switch args[0] {
	case "create":
		method, path = http.MethodPost, "/v1/stockpile/scoped-token"
		var list []string
		for _, r := range strings.Split(*repos, ",") {
			if r = strings.TrimSpace(r); r != "" {
				list = append(list, r)
			}
		}
		body, _ = json.Marshal(map[string]any{"name": *name, "repositories": list, "access": *accessLevel, "durationSeconds": int64(duration.Seconds())})
	case "list":
		method, path = http.MethodPost, "/v1/stockpile/scoped-tokens"
	case "revoke":
		method, path = http.MethodDelete, "/v1/stockpile/scoped-token"
		q.Set("name", *name)
	default:
		fmt.Fprintln(stderr, tokenUsage)
		return fmt.Errorf("token: unknown subcommand %q", args[0])
	}
	out, err := callSigned(getenv, method, strings.TrimRight(*endpoint, "/")+path+"?"+q.Encode(), body)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// callSigned sends one signed control-plane request and returns the
// indented JSON answer, or an error carrying the AWS error type and message.
func callSigned(getenv func(string) string, method, u string, body []byte) ([]byte, error) {
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, errors.New("token: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := sigv4.Sign(req, body, key, secret, region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		return nil, fmt.Errorf("token: %s (%s): %s", resp.Status, resp.Header.Get("x-amzn-ErrorType"), e.Message)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		return raw, nil
	}
	pretty.WriteByte('\n')
	return pretty.Bytes(), nil
}

// rotateTokenKey replaces the token-signing key in the store of a stopped
// server: every outstanding data-plane token is refused from its next start.
func rotateTokenKey(cfg *proxy.Config, stdout, stderr io.Writer) error {
	store, err := badgerstore.Open(badgerstore.Options{Dir: cfg.DataDir}, newLogger(cfg, stderr).With("component", "storage"))
	if err != nil {
		return fmt.Errorf("rotate-token-key: open %s (is the server still running?): %w", cfg.DataDir, err)
	}
	defer store.Close()
	if _, err := proxy.RotateTokenKey(context.Background(), store); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "token-signing key rotated: every token minted before is refused once the server starts")
	return nil
}
