package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/bundle"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/cpclient"
)

// maxAsset bounds an asset read through GetPackageVersionAsset: the
// largest publish Stockpile accepts by default.
const maxAsset = 2 << 30

const exportLong = `Write a repository's packages to one file: their origin controls, their
versions with their statuses, and every asset, checked against the SHA-256
the repository lists (a tar, zstd-compressed, whose manifest.json lists the
assets by SHA-256). For air-gapped sites and for seeding CI caches; the
server may be running. Bundles carry generic, npm, pypi, ruby and nuget
packages (--format to choose one when the repository holds others).`

const importLong = `Publish the packages of a bundle into a repository (of the same or another
Stockpile, running), creating the domain and repository when they do not
exist. Every asset is checked against its SHA-256 before anything changes, and
a bundle that does not match its manifest is refused, naming the entry. A
version the repository already holds with the same assets is left alone, so
importing twice changes nothing; one it holds with other bytes is refused, as
a publish would be, and reported (exit 1). npm dist-tags end on the last
version imported.`

func exportCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var repo, format, out string
	c := &cobra.Command{
		Use:     "export --domain D --repository R -o FILE",
		Short:   "Write a repository's packages, statuses, origin controls and assets to a bundle",
		Long:    exportLong,
		Example: "  stockpile export --domain acme --repository internal -o internal.bundle",
		Args:    noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			if cf.domain == "" || repo == "" || out == "" {
				return usagef(cmd, "--domain, --repository and -o are required")
			}
			cl, err := cf.client(e.getenv)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			cl.MaxAnswer = maxAsset
			f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			m, err := bundle.Export(context.Background(), cl, cf.domain, repo, format, f, bundleProgress(e, "export"))
			if err == nil {
				err = f.Close()
			} else {
				f.Close()
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := os.Rename(f.Name(), out); err != nil {
				return err
			}
			versions, assets := 0, 0
			for _, p := range m.Packages {
				versions += len(p.Versions)
				for _, v := range p.Versions {
					assets += len(v.Assets)
				}
			}
			fmt.Fprintf(e.stdout, "wrote %s: %d packages, %d versions, %d assets\n", out, len(m.Packages), versions, assets)
			return nil
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&repo, "repository", "", "repository to export")
	c.Flags().StringVar(&format, "format", "", "export only this format (generic, npm, pypi, ruby, nuget)")
	c.Flags().StringVarP(&out, "output", "o", "", "bundle file to write")
	return c
}

func importCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var repo string
	c := &cobra.Command{
		Use:     "import [--domain D] [--repository R] FILE",
		Short:   "Publish a bundle's packages into a repository",
		Long:    importLong,
		Example: "  stockpile import --endpoint http://stockpile.airgap:8080 --domain acme --repository internal internal.bundle",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef(cmd, "give one bundle FILE")
			}
			return nil
		},
		RunE: r.wrap(func(cmd *cobra.Command, args []string) error {
			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			dir, err := os.MkdirTemp("", "stockpile-import-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			opened, err := bundle.Open(in, dir)
			if err != nil {
				return fmt.Errorf("import %s: %w", args[0], err)
			}
			if cf.domain == "" {
				cf.domain = opened.Manifest.Domain
			}
			if repo == "" {
				repo = opened.Manifest.Repository
			}
			cl, err := cf.client(e.getenv)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			ctx := context.Background()
			if err := ensureRepository(ctx, cl, cf.domain, repo); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			token, _, err := cl.AuthorizationToken(ctx, cf.domain, 0)
			if err != nil {
				return fmt.Errorf("import: GetAuthorizationToken: %w", err)
			}
			rep, err := bundle.Import(ctx, bundle.Target{CP: cl, Base: cf.endpoint, Token: token, Domain: cf.domain, Repository: repo},
				opened, bundleProgress(e, "import"))
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			fmt.Fprintf(e.stdout, "%s/%s: %d versions imported, %d already there, %d refused\n", cf.domain, repo, rep.Imported, rep.AlreadyThere, len(rep.Conflicts))
			for _, c := range rep.Conflicts {
				fmt.Fprintf(e.stdout, "  refused: %s\n", c)
			}
			if len(rep.Conflicts) > 0 {
				return errors.New("import: some versions were refused")
			}
			return nil
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&repo, "repository", "", "repository to import into (default the bundle's)")
	c.Flags().Lookup("domain").Usage = "domain to import into (default the bundle's)"
	return c
}

// ensureRepository creates the domain and the repository when missing.
func ensureRepository(ctx context.Context, cl *cpclient.Client, domain, repo string) error {
	_, err := cl.DescribeRepository(ctx, domain, repo)
	if !cpclient.IsNotFound(err) {
		return err
	}
	q := url.Values{"domain": {domain}}
	if _, err := cl.Call(ctx, http.MethodGet, "/v1/domain", q, nil); cpclient.IsNotFound(err) {
		if _, err := cl.Call(ctx, http.MethodPost, "/v1/domain", q, []byte("{}")); err != nil {
			return fmt.Errorf("create domain %s: %w", domain, err)
		}
	} else if err != nil {
		return err
	}
	if err := cl.CreateRepository(ctx, domain, repo, ""); err != nil {
		return fmt.Errorf("create repository %s: %w", repo, err)
	}
	return nil
}

// bundleProgress is a bar on a terminal, a line every 10 s otherwise.
func bundleProgress(e *env, what string) bundle.Progress {
	return &stepProgress{w: e.stderr, what: what, terminal: e.isTerminal(e.stderr), now: time.Now}
}

type stepProgress struct {
	w        io.Writer
	what     string
	terminal bool
	now      func() time.Time
	last     time.Time
}

func (p *stepProgress) Step(done, total int) {
	now := p.now()
	final := done == total
	every := 10 * time.Second
	if p.terminal {
		every = 100 * time.Millisecond
	}
	if !final && now.Sub(p.last) < every {
		return
	}
	p.last = now
	if p.terminal {
		const width = 30
		filled := width * done / max(total, 1)
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.what, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintf(p.w, "%s: %d/%d\n", p.what, done, total)
}
