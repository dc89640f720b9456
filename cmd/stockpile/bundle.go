package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/bundle"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/warm"
)

const exportLong = `Write a repository's packages (or every repository's of the domain, without
--repository; only the versions some lockfiles name, with --lockfile) to one
file: the repositories' upstreams and external connections, the packages'
origin controls and npm dist-tags, the versions with their statuses (Maven
snapshot builds included), and every asset, streamed from the server and
checked against the SHA-256 the repository lists (a tar, zstd-compressed,
whose manifest.json lists the assets by SHA-256). For air-gapped sites and
for seeding CI caches; the server may be running.`

const importLong = `Publish the packages of a bundle into its repositories (of the same or another
Stockpile, running), creating the domain and the repositories that do not
exist. Every asset is checked against its SHA-256 before anything changes, and
a bundle that does not match its manifest is refused, naming the entry. A
version the repository already holds with the same assets is left alone, so
importing twice changes nothing; one it holds with other bytes is refused, as
a publish would be, and reported (exit 1). Maven snapshot builds are deployed
as mvn deploys them, keeping which build is the snapshot's newest.

A repository gets the bundle's external connection and upstreams (those in the
bundle, or already in the domain) when it has none; settings it has otherwise
are kept and printed as notes. An npm package gets the bundle's dist-tags; when
the repository held the package already, its own tags win (the differing ones
are noted) and the tags it lacks are added.`

func exportCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var repo, format, out string
	var lockfiles []string
	c := &cobra.Command{
		Use:   "export --domain D [--repository R] [--lockfile FILE]... -o FILE",
		Short: "Write a repository's (or a domain's) packages, statuses, origin controls and assets to a bundle",
		Long:  exportLong,
		Example: `  stockpile export --domain acme --repository internal -o internal.bundle
  stockpile export --domain acme -o acme.bundle
  stockpile export --domain acme --repository app --lockfile package-lock.json -o ci-cache.bundle`,
		Args: noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			if cf.domain == "" || out == "" {
				return usagef(cmd, "--domain and -o are required")
			}
			filter, err := lockfileFilter(lockfiles)
			if err != nil {
				return err
			}
			cl, err := cf.client(e.getenv)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			ctx := context.Background()
			repos := []string{repo}
			if repo == "" {
				if repos, err = cl.ListRepositoriesInDomain(ctx, cf.domain); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				sort.Strings(repos)
			}
			f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			token, _, err := cl.AuthorizationToken(ctx, cf.domain, 0)
			if err != nil {
				f.Close()
				return fmt.Errorf("export: GetAuthorizationToken: %w", err)
			}
			src := bundle.Source{Base: cf.endpoint, Token: token}
			m, err := bundle.Export(ctx, cl, src, cf.domain, repos, format, filter, f, bundleProgress(e, "export"))
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
			pkgs, versions, assets := m.Counts()
			fmt.Fprintf(e.stdout, "wrote %s: %d repositories, %d packages, %d versions, %d assets\n", out, len(m.Repositories), pkgs, versions, assets)
			return nil
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&repo, "repository", "", "repository to export (default every repository of the domain)")
	c.Flags().StringVar(&format, "format", "", "export only this format (npm, pypi, maven, nuget, ruby, cargo, generic)")
	c.Flags().StringArrayVar(&lockfiles, "lockfile", nil, "export only the versions this lockfile names (repeatable; the lockfiles warm reads)")
	c.Flags().StringVarP(&out, "output", "o", "", "bundle file to write")
	return c
}

// lockfileFilter keeps the versions some lockfiles name; nil without
// lockfiles.
func lockfileFilter(paths []string) (bundle.Filter, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	keep := map[string]bool{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		arts, err := warm.Parse(path, b)
		if err != nil {
			return nil, err
		}
		for _, a := range arts {
			keep[versionKey(a.Format, a.Name, a.Version)] = true
		}
	}
	return func(p bundle.Package, version string) bool {
		name := p.Name
		if p.Namespace != "" && p.Format == "npm" {
			name = "@" + p.Namespace + "/" + p.Name
		}
		return keep[versionKey(p.Format, name, version)]
	}, nil
}

// versionKey compares names as their registries do: PyPI's normalised
// (PEP 503), NuGet's case-insensitively.
func versionKey(format, name, version string) string {
	switch format {
	case "pypi":
		name = strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "-"))
	case "nuget":
		name, version = strings.ToLower(name), strings.ToLower(version)
	}
	return format + " " + name + " " + version
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
			m := opened.Manifest
			if cf.domain == "" {
				cf.domain = m.Domain
			}
			rename := map[string]string{}
			if repo != "" {
				if len(m.Repositories) != 1 {
					return usagef(cmd, "--repository: the bundle holds %d repositories; it renames only one", len(m.Repositories))
				}
				rename[m.Repositories[0].Name] = repo
			}
			cl, err := cf.client(e.getenv)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			ctx := context.Background()
			// the domain may not exist yet: GetAuthorizationToken needs it
			t := bundle.Target{CP: cl, Base: cf.endpoint, Domain: cf.domain, Rename: rename}
			rep, err := bundle.Import(ctx, t, opened, bundleProgress(e, "import"), func() (string, error) {
				tok, _, err := cl.AuthorizationToken(ctx, cf.domain, 0)
				return tok, err
			})
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			for _, c := range rep.CreatedRepositories {
				fmt.Fprintf(e.stdout, "created %s/%s\n", cf.domain, c)
			}
			fmt.Fprintf(e.stdout, "%s: %d versions imported, %d already there, %d refused\n", cf.domain, rep.Imported, rep.AlreadyThere, len(rep.Conflicts))
			for _, c := range rep.Conflicts {
				fmt.Fprintf(e.stdout, "  refused: %s\n", c)
			}
			for _, n := range rep.Notes {
				fmt.Fprintf(e.stdout, "  note: %s\n", n)
			}
			if len(rep.Conflicts) > 0 {
				return errors.New("import: some versions were refused")
			}
			return nil
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&repo, "repository", "", "repository to import a one-repository bundle into (default the bundle's)")
	c.Flags().Lookup("domain").Usage = "domain to import into (default the bundle's)"
	return c
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
