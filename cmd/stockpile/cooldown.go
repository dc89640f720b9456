package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

const cooldownLong = `Read and change the release-age cooldown of a repository or a package group
(a Stockpile extension, /v1/stockpile/...): versions arriving through an
external connection are held back until they are --min-age old. "held" lists
what a package's cooldown holds back from a repository's clients now, and why.
The most specific cooldown wins: the package's group, then the repository,
then the root group /*.

Calls are signed with the AWS credentials of the environment or profile, as
the AWS CLI signs.`

// cooldownCommand manages cooldowns through the control plane.
func cooldownCommand(e *env, r *runner) *cobra.Command {
	cf := &clientFlags{}
	var repo, group string
	c := &cobra.Command{
		Use:   "cooldown",
		Short: "Show, set and remove release-age cooldowns; list held versions",
		Long:  cooldownLong,
		Example: `  stockpile cooldown set    --domain acme --repository app --min-age 7d --mode deny
  stockpile cooldown set    --domain acme --package-group '/npm/acme/*' --min-age 0
  stockpile cooldown get    --domain acme --repository app
  stockpile cooldown held   --domain acme --repository app --format npm --package left-pad
  stockpile cooldown remove --domain acme --repository app`,
		Args: groupArgs,
		RunE: r.wrap(func(*cobra.Command, []string) error { return nil }), // not reached: Args refuses
	}
	cf.add(c.PersistentFlags(), e.getenv)
	c.PersistentFlags().StringVar(&repo, "repository", "", "repository")
	c.PersistentFlags().StringVar(&group, "package-group", "", "package group pattern (instead of --repository)")
	// call sends one signed call and prints its indented JSON answer.
	call := func(cmd *cobra.Command, method, path string, q url.Values, body []byte) error {
		return cf.call(e, cmd, "cooldown "+cmd.Name(), method, path, q, body)
	}
	// target is the path and query of the repository's or the group's
	// cooldown, whichever the flags name.
	target := func(cmd *cobra.Command) (string, url.Values, error) {
		switch {
		case repo != "" && group != "":
			return "", nil, usagef(cmd, "give --repository or --package-group, not both")
		case repo != "":
			return "/v1/stockpile/cooldown", url.Values{"repository": {repo}}, nil
		case group != "":
			return "/v1/stockpile/package-group-cooldown", url.Values{"package-group": {group}}, nil
		}
		return "", nil, usagef(cmd, "--repository or --package-group is required")
	}

	get := &cobra.Command{
		Use:   "get --domain D (--repository R | --package-group P)",
		Short: "Show the cooldown set on a repository or a package group",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			path, q, err := target(cmd)
			if err != nil {
				return err
			}
			return call(cmd, http.MethodGet, path, q, nil)
		}),
	}

	var minAge, mode, missing, exempt string
	var retained bool
	set := &cobra.Command{
		Use:   "set --domain D (--repository R | --package-group P) --min-age 7d [--mode hide|deny] [--missing-time allow|deny] [--exempt P1,P2] [--apply-to-retained]",
		Short: "Set the cooldown of a repository or a package group (effective at once)",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			path, q, err := target(cmd)
			if err != nil {
				return err
			}
			age, err := firewall.ParseDuration(minAge)
			if err != nil {
				return usagef(cmd, "--min-age: %v", err)
			}
			cd := firewall.Cooldown{MinAge: age, Mode: mode, MissingTime: missing, ApplyToRetained: retained}
			for _, p := range strings.Split(exempt, ",") {
				if p = strings.TrimSpace(p); p != "" {
					cd.Exempt = append(cd.Exempt, p)
				}
			}
			body, _ := json.Marshal(map[string]any{"cooldown": cd})
			return call(cmd, http.MethodPut, path, q, body)
		}),
	}
	set.Flags().StringVar(&minAge, "min-age", "", "minimum age of a version (7d, 36h); 0 turns the cooldown off")
	set.Flags().StringVar(&mode, "mode", firewall.ModeHide, "hide (left out of metadata) or deny (its files refused too)")
	set.Flags().StringVar(&missing, "missing-time", firewall.MissingAllow, "a version with no known publish time: allow or deny")
	set.Flags().StringVar(&exempt, "exempt", "", "comma-separated package group patterns the cooldown does not apply to")
	set.Flags().BoolVar(&retained, "apply-to-retained", false, "also hold versions a repository has already retained")
	_ = set.MarkFlagRequired("min-age")

	remove := &cobra.Command{
		Use:   "remove --domain D (--repository R | --package-group P)",
		Short: "Remove the cooldown of a repository or a package group",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			path, q, err := target(cmd)
			if err != nil {
				return err
			}
			return call(cmd, http.MethodPut, path, q, []byte(`{"cooldown":null}`))
		}),
	}

	var format, namespace, pkg string
	held := &cobra.Command{
		Use:   "held --domain D --repository R --format F [--namespace N] --package P",
		Short: "List the versions of a package the cooldown holds back from a repository's clients now",
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			if repo == "" || format == "" || pkg == "" {
				return usagef(cmd, "--repository, --format and --package are required")
			}
			q := url.Values{"repository": {repo}, "format": {format}, "package": {pkg}}
			if namespace != "" {
				q.Set("namespace", namespace)
			}
			return call(cmd, http.MethodGet, "/v1/stockpile/held", q, nil)
		}),
	}
	held.Flags().StringVar(&format, "format", "", "npm, pypi, maven, nuget, ruby or cargo")
	held.Flags().StringVar(&namespace, "namespace", "", "npm scope without @, Maven groupId")
	held.Flags().StringVar(&pkg, "package", "", "package name")

	c.AddCommand(get, set, remove, held)
	return c
}
