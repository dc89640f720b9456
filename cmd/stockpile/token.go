package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/proxy"
)

const tokenLong = `Manage scoped long-lived tokens (a Stockpile extension for Renovate, Dependabot
and CI): a named token limited to one domain, some of its repositories and read
or read+publish, expiring within a year. The secret of a new token is printed
once; it is not stored.

Calls are signed with the AWS credentials of the environment or profile
(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, region AWS_REGION or
AWS_DEFAULT_REGION, us-east-1 by default), as the AWS CLI signs.`

// tokenCommand manages scoped long-lived tokens through the control plane.
func tokenCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke scoped long-lived tokens",
		Long:  tokenLong,
		Example: `  stockpile token create --domain acme --name renovate --repositories app --access read --duration 8760h
  stockpile token list   --domain acme
  stockpile token revoke --domain acme --name renovate`,
		Args: groupArgs,
		RunE: r.wrap(func(*cobra.Command, []string) error { return nil }), // not reached: Args refuses
	}
	cf.add(c.PersistentFlags(), e.getenv)
	// call sends one signed call and prints its indented JSON answer.
	call := func(cmd *cobra.Command, method, path string, q url.Values, body []byte) error {
		return cf.call(e, cmd, "token "+cmd.Name(), method, path, q, body)
	}

	var name, repos, access string
	var duration time.Duration
	create := &cobra.Command{
		Use:   "create --domain D --name N --repositories R1,R2 [--access read|read+publish] [--duration 2160h]",
		Short: "Create a token and print its secret once",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			var list []string
			for _, r := range strings.Split(repos, ",") {
				if r = strings.TrimSpace(r); r != "" {
					list = append(list, r)
				}
			}
			body, _ := json.Marshal(map[string]any{"name": name, "repositories": list, "access": access, "durationSeconds": int64(duration.Seconds())})
			return call(cmd, http.MethodPost, "/v1/stockpile/scoped-token", url.Values{}, body)
		}),
	}
	create.Flags().StringVar(&name, "name", "", "name of the token")
	create.Flags().StringVar(&repos, "repositories", "", "comma-separated repositories the token may use")
	create.Flags().StringVar(&access, "access", "read", "read or read+publish")
	create.Flags().DurationVar(&duration, "duration", 90*24*time.Hour, "lifetime (at most a year, 8784h)")

	list := &cobra.Command{
		Use:   "list --domain D",
		Short: "List the tokens of a domain (never their secrets)",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			return call(cmd, http.MethodPost, "/v1/stockpile/scoped-tokens", url.Values{}, nil)
		}),
	}
	var revokeName string
	revoke := &cobra.Command{
		Use:   "revoke --domain D --name N",
		Short: "Revoke a token: refused from the next request",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			if revokeName == "" {
				return usagef(cmd, "--name is required")
			}
			return call(cmd, http.MethodDelete, "/v1/stockpile/scoped-token", url.Values{"name": {revokeName}}, nil)
		}),
	}
	revoke.Flags().StringVar(&revokeName, "name", "", "name of the token")
	c.AddCommand(create, list, revoke)
	return c
}

// rotateTokenKey replaces the token-signing key in the store of a stopped
// server: every outstanding data-plane token is refused from its next start.
func rotateTokenKey(cfg *proxy.Config, stdout, stderr io.Writer) error {
	store, err := openStore(context.Background(), cfg, 0, newLogger(cfg, stderr).With("component", "storage"))
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
