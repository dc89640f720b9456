package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/login"
)

func loginLong() string {
	var b strings.Builder
	b.WriteString(`Point a package manager at a repository: write the tool's own configuration
with the repository's endpoint and a token, in the user's files (with --project
the registry setting goes to the project's file; tokens always stay in the
user's files, since project files are committed). Existing files are edited in
place, their other settings kept, the old file saved as FILE.bak.

The token comes from GetAuthorizationToken (signed with the AWS credentials of
the environment or profile; --duration, 12h by default, 15m to 12h), or is a
scoped long-lived token given with --token or $STOCKPILE_TOKEN (see stockpile
token), used as it is.

Tools:
`)
	for _, t := range login.Tools() {
		fmt.Fprintf(&b, "  %-11s %s\n", t.Name, t.Files)
	}
	return b.String()
}

func loginCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var tool, repo, token string
	var duration time.Duration
	var dryRun, project bool
	c := &cobra.Command{
		Use:   "login --tool TOOL --domain D --repository R",
		Short: "Configure a package manager to use a repository",
		Long:  loginLong(),
		Example: `  stockpile login --tool npm --domain acme --repository app
  stockpile login --tool cargo --domain acme --repository app --project
  stockpile login --tool maven --domain acme --repository app --dry-run
  STOCKPILE_TOKEN=stkpl_... stockpile login --tool pip --domain acme --repository app`,
		Args: noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			t, ok := login.Lookup(tool)
			switch {
			case tool == "":
				return usagef(cmd, "--tool is required: one of %s", strings.Join(login.Names(), ", "))
			case !ok:
				return usagef(cmd, "unknown --tool %q: one of %s", tool, strings.Join(login.Names(), ", "))
			case cf.domain == "" || repo == "":
				return usagef(cmd, "--domain and --repository are required")
			}
			if token == "" {
				token = e.getenv("STOCKPILE_TOKEN")
			}
			target, expires, err := loginTarget(cf, e, t.Format, repo, token, duration)
			if err != nil {
				return err
			}
			return writeLogin(cmd, e, t, target, expires, dryRun, project)
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&tool, "tool", "", "package manager: "+strings.Join(login.Names(), ", "))
	c.Flags().StringVar(&repo, "repository", "", "repository")
	c.Flags().DurationVar(&duration, "duration", 12*time.Hour, "lifetime of the token GetAuthorizationToken mints (15m to 12h)")
	c.Flags().StringVar(&token, "token", "", "a scoped long-lived token to write instead of minting one ($STOCKPILE_TOKEN)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be written, the token masked, and write nothing")
	c.Flags().BoolVar(&project, "project", false, "write the registry setting to the project's file in the working directory")
	return c
}

// loginTarget finds the repository's endpoint and the token: the given
// token with the endpoint built from the URL, or GetRepositoryEndpoint and
// GetAuthorizationToken signed with the AWS credentials.
func loginTarget(cf *clientFlags, e *env, format, repo, token string, d time.Duration) (login.Target, time.Time, error) {
	if token != "" {
		ep := strings.TrimRight(cf.endpoint, "/") + "/" + cf.domain + "/" + format + "/" + repo + "/"
		return login.Target{Endpoint: ep, Token: token}, time.Time{}, nil
	}
	cl, err := cf.client(e.getenv)
	if err != nil {
		return login.Target{}, time.Time{}, fmt.Errorf("login: %w (or give a scoped token with --token)", err)
	}
	ctx := context.Background()
	ep, err := cl.RepositoryEndpoint(ctx, cf.domain, repo, format)
	if err != nil {
		return login.Target{}, time.Time{}, fmt.Errorf("login: GetRepositoryEndpoint: %w", err)
	}
	tok, exp, err := cl.AuthorizationToken(ctx, cf.domain, d)
	if err != nil {
		return login.Target{}, time.Time{}, fmt.Errorf("login: GetAuthorizationToken: %w", err)
	}
	return login.Target{Endpoint: ep, Token: tok}, exp, nil
}

func writeLogin(cmd *cobra.Command, e *env, t login.Tool, target login.Target, expires time.Time, dryRun, project bool) error {
	home := e.getenv("HOME")
	if home == "" {
		return errors.New("login: HOME is not set")
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	edits, err := t.Plan(login.Place{Home: home, Dir: dir, Project: project, Getenv: e.getenv, ReadFile: os.ReadFile}, target)
	if errors.Is(err, login.ErrNoProjectFile) {
		return usagef(cmd, "--project: %v", err)
	}
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if dryRun {
		login.Describe(e.stdout, edits, target.Token)
		return nil
	}
	backups, err := login.Apply(edits)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	for _, ed := range edits {
		fmt.Fprintf(e.stdout, "wrote %s\n", ed.Path)
	}
	for _, b := range backups {
		fmt.Fprintf(e.stdout, "kept the previous file as %s\n", b)
	}
	msg := fmt.Sprintf("%s now uses %s", t.Name, target.Endpoint)
	if !expires.IsZero() {
		msg += fmt.Sprintf("; the token expires at %s", expires.Local().Format(time.RFC3339))
	}
	fmt.Fprintln(e.stdout, msg)
	return nil
}
