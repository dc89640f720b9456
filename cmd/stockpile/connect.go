package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile/internal/connect"
)

func connectLong() string {
	var b strings.Builder
	b.WriteString(`Connect a repository to a public repository, as CodeArtifact's console does:
NAME is an external connection or its store repository's name; the store
repository is created with its external connection if the domain lacks it,
and added to the repository's upstreams (last, or at --position, 1 being
first). Running it again changes nothing. --list shows the public
repositories and which store repositories the domain has.

Public repositories:
`)
	for _, p := range connect.Publics() {
		fmt.Fprintf(&b, "  %-27s %-21s %s\n", p.Connection, p.Store, p.Title)
	}
	return b.String()
}

func connectCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var repo string
	var position int
	var list bool
	c := &cobra.Command{
		Use:   "connect --domain D --repository R NAME | connect --list --domain D",
		Short: "Connect a repository to a public repository through its -store repository",
		Long:  connectLong(),
		Example: `  stockpile connect --domain acme --repository app public:npmjs
  stockpile connect --domain acme --repository app pypi-store --position 1
  stockpile connect --list --domain acme`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case list && len(args) > 0:
				return usagef(cmd, "--list takes no NAME")
			case !list && len(args) != 1:
				return usagef(cmd, "give one NAME: an external connection (public:npmjs) or its store repository (npm-store)")
			}
			return nil
		},
		RunE: r.wrap(func(cmd *cobra.Command, args []string) error {
			if cf.domain == "" {
				return usagef(cmd, "--domain is required")
			}
			cl, err := cf.client(e.getenv)
			if err != nil {
				return err
			}
			ctx := context.Background()
			if list {
				rows, err := connect.List(ctx, cl, cf.domain)
				if err != nil {
					return fmt.Errorf("connect: %w", err)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EXTERNAL CONNECTION\tSTORE REPOSITORY\tIN "+cf.domain+"\tPUBLIC REPOSITORY")
				for _, row := range rows {
					in := "-"
					if row.Present {
						in = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Connection, row.Store, in, row.Title)
				}
				return tw.Flush()
			}
			if repo == "" {
				return usagef(cmd, "--repository is required")
			}
			p, ok := connect.Find(args[0])
			if !ok {
				return usagef(cmd, "unknown public repository %q: see stockpile connect --help", args[0])
			}
			res, err := connect.Connect(ctx, cl, cf.domain, repo, p, position)
			if errors.Is(err, connect.ErrInvalid) {
				return usagef(cmd, "%v", err)
			}
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			if res.CreatedStore {
				fmt.Fprintf(e.stdout, "created %s\n", p.Store)
			}
			if res.Associated {
				fmt.Fprintf(e.stdout, "associated %s with %s\n", p.Connection, p.Store)
			}
			if res.Linked {
				fmt.Fprintf(e.stdout, "%s now reads through %s\n", repo, strings.Join(res.Upstreams, ", "))
			} else {
				fmt.Fprintf(e.stdout, "%s already reads through %s\n", repo, p.Store)
			}
			return nil
		}),
	}
	cf.add(c.Flags(), e.getenv)
	c.Flags().StringVar(&repo, "repository", "", "repository to connect")
	c.Flags().IntVar(&position, "position", 0, "place in the repository's upstreams, 1 being first (default last)")
	c.Flags().BoolVar(&list, "list", false, "list the public repositories and the domain's store repositories")
	return c
}
