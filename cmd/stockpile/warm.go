package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/warm"
)

const warmLong = `Read lockfiles and fetch every artifact they name through a repository, so
that its cache holds exactly what a build needs (before going offline, or to
seed a CI cache). It talks to Stockpile over HTTP like any client, so the
server may be remote. Each file is checked against the lockfile's integrity
hashes where it has them (and the repository's own).

Lockfiles: package-lock.json and npm-shrinkwrap.json (v1 to v3), yarn.lock
(Yarn 1 and 2+), pnpm-lock.yaml (v5 to v9), requirements*.txt (pinned with ==,
with or without --hash), Pipfile.lock, poetry.lock, uv.lock, Cargo.lock,
Gemfile.lock (with its CHECKSUMS when Bundler wrote them), packages.lock.json,
and the output of mvn dependency:list (any file name).

The token comes from GetAuthorizationToken, signed with the AWS credentials of
the environment or profile, or is a scoped token (--token, $STOCKPILE_TOKEN).
On a terminal a progress bar shows; otherwise a line is logged every 10 s and
one for each failure. It exits 1 when anything failed.`

func warmCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var repo, token string
	var jobs int
	c := &cobra.Command{
		Use:   "warm --domain D --repository R FILE...",
		Short: "Fetch every artifact of some lockfiles through a repository",
		Long:  warmLong,
		Example: `  stockpile warm --domain acme --repository app package-lock.json requirements.txt
  STOCKPILE_TOKEN=stkpl_... stockpile warm --endpoint http://stockpile:8080 --domain acme --repository app Cargo.lock`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef(cmd, "give at least one lockfile")
			}
			return nil
		},
		RunE: r.wrap(func(cmd *cobra.Command, args []string) error {
			if cf.domain == "" || repo == "" {
				return usagef(cmd, "--domain and --repository are required")
			}
			if jobs < 1 || jobs > 64 {
				return usagef(cmd, "--jobs %d: 1 to 64", jobs)
			}
			var arts []warm.Artifact
			for _, path := range args {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				a, err := warm.Parse(path, b)
				if err != nil {
					return err
				}
				arts = append(arts, a...)
			}
			if token == "" {
				token = e.getenv("STOCKPILE_TOKEN")
			}
			if token == "" {
				cl, err := cf.client(e.getenv)
				if err != nil {
					return fmt.Errorf("warm: %w (or give a scoped token with --token)", err)
				}
				if token, _, err = cl.AuthorizationToken(context.Background(), cf.domain, 0); err != nil {
					return fmt.Errorf("warm: GetAuthorizationToken: %w", err)
				}
			}
			s := warm.Run(context.Background(), warm.Options{Base: cf.endpoint, Domain: cf.domain, Repository: repo, Token: token,
				Jobs: jobs, Progress: warmProgress(e.stderr, e.isTerminal(e.stderr))}, arts)
			printSummary(e.stdout, s)
			if s.Failed > 0 {
				return fmt.Errorf("warm: %d of %d artifacts failed", s.Failed, s.Artifacts)
			}
			return nil
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&repo, "repository", "", "repository to fetch through")
	c.Flags().StringVar(&token, "token", "", "a scoped token to use instead of minting one ($STOCKPILE_TOKEN)")
	c.Flags().IntVar(&jobs, "jobs", 8, "artifacts fetched at once")
	return c
}

// warmProgress is a bar on a terminal, log lines otherwise.
func warmProgress(w io.Writer, terminal bool) warm.Progress {
	if terminal {
		return &warm.Bar{W: w, Now: time.Now, Every: 100 * time.Millisecond}
	}
	return &warm.Lines{W: w, Now: time.Now, Every: 10 * time.Second}
}

func printSummary(w io.Writer, s warm.Summary) {
	fmt.Fprintf(w, "%d artifacts (%d files, %.1f MiB): %d fetched and verified, %d failed\n",
		s.Artifacts, s.Files, float64(s.Bytes)/(1<<20), s.Fetched, s.Failed)
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  failed: %s (%s): %v\n", f.Artifact, f.Artifact.From, f.Err)
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
