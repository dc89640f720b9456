package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
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
With AWS credentials it first asks what the repository holds: an artifact
held (with a file matching the lockfile's hashes) counts as already cached and
is not downloaded again. On a terminal a progress bar shows; otherwise a line
is logged every 10 s and one for each failure. It exits 1 when anything failed.`

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
			opts := warm.Options{Base: cf.endpoint, Domain: cf.domain, Repository: repo, Token: token,
				Jobs: jobs, Progress: warmProgress(e.stderr, e.isTerminal(e.stderr))}
			if cl, err := cf.client(e.getenv); err == nil {
				opts.Holdings = holdings(cl, cf.domain, repo)
			}
			s := warm.Run(context.Background(), opts, arts)
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
	fmt.Fprintf(w, "%d artifacts (%d files, %.1f MiB fetched): %d fetched and verified, %d already cached, %d failed\n",
		s.Artifacts, s.Files, float64(s.Bytes)/(1<<20), s.Fetched, s.Cached, s.Failed)
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

// holdings asks the control plane (ListPackageVersionAssets) what the
// repository holds of an artifact, naming the package as the repository
// does: npm scopes and Maven groups as namespaces, PyPI names normalised
// (PEP 503), crate names with '_'. A name spelt otherwise is only fetched
// again.
func holdings(cl *cpclient.Client, domain, repo string) warm.Holdings {
	return func(ctx context.Context, a warm.Artifact) ([][]warm.Digest, error) {
		ns, name, version := "", a.Name, a.Version
		switch a.Format {
		case "npm":
			if scope, n, ok := strings.Cut(strings.TrimPrefix(a.Name, "@"), "/"); ok && strings.HasPrefix(a.Name, "@") {
				ns, name = scope, n
			}
		case "maven":
			ns, name, _ = strings.Cut(a.Name, ":")
		case "pypi":
			name = strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(a.Name, "-"))
		case "cargo":
			name = strings.ReplaceAll(strings.ToLower(a.Name), "-", "_")
		case "ruby":
			if a.Platform != "" {
				version += "-" + a.Platform
			}
		}
		q := url.Values{"domain": {domain}, "repository": {repo}, "format": {a.Format}, "package": {name}, "version": {version}}
		if ns != "" {
			q.Set("namespace", ns)
		}
		raw, err := cl.Call(ctx, http.MethodPost, "/v1/package/version/assets", q, nil)
		if cpclient.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var res struct {
			Assets []struct {
				Hashes map[string]string `json:"hashes"`
			} `json:"assets"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, err
		}
		var out [][]warm.Digest
		for _, as := range res.Assets {
			var ds []warm.Digest
			for k, algo := range map[string]string{"SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"} {
				if sum, err := hex.DecodeString(as.Hashes[k]); err == nil && len(sum) > 0 {
					ds = append(ds, warm.Digest{Algo: algo, Sum: sum})
				}
			}
			out = append(out, ds)
		}
		return out, nil
	}
}
