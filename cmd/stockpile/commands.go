package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stockpile-proxy/stockpile/cmd/internal/awscreds"
	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
	"github.com/stockpile-proxy/stockpile/proxy"
)

// env is what the commands get from the process: injected so tests run
// them in-process.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	// isTerminal tells whether a writer is a terminal (progress bars).
	isTerminal func(io.Writer) bool
}

// usageError is a command line that cannot run: an unknown command or
// flag, a missing or bad argument. It exits 2.
type usageError struct {
	command string // "stockpile token create"
	err     error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{command: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// runner wraps a command's work so that every error cobra reports before
// the work starts (flag parsing, arguments, required flags) is a usage
// error, and errors from the work are not.
type runner struct{ started bool }

func (r *runner) wrap(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		r.started = true
		return fn(cmd, args)
	}
}

const rootLong = `Stockpile is a self-hosted caching package proxy and private registry for
npm, PyPI, Maven, NuGet, RubyGems and Cargo with CodeArtifact's control plane.

Server commands run on the machine that keeps the data; client commands talk
to a running Stockpile over HTTP (--endpoint, default $STOCKPILE_ENDPOINT or
http://127.0.0.1:8080), signed with AWS credentials from the environment or a
profile, as the AWS CLI signs.`

func newRoot(e *env) (*cobra.Command, *runner) {
	r := &runner{}
	root := &cobra.Command{
		Use:           "stockpile",
		Short:         "Caching package proxy and private registry",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{command: cmd.CommandPath(), err: err}
	})
	root.AddGroup(&cobra.Group{ID: "server", Title: "Server commands:"}, &cobra.Group{ID: "client", Title: "Client commands:"})
	for _, c := range append(serverCommands(e, r), migrateCommand(e, r)) {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{loginCommand(e, r), connectCommand(e, r), warmCommand(e, r), exportCommand(e, r), importCommand(e, r), tokenCommand(e, r), cooldownCommand(e, r)} {
		c.GroupID = "client"
		root.AddCommand(c)
	}
	root.AddCommand(versionCommand(e, r))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	markUsageErrors(root)
	return root, r
}

// markUsageErrors makes the commands that only group others (completion,
// which cobra adds) refuse a missing or unknown subcommand.
func markUsageErrors(c *cobra.Command) {
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.Args = groupArgs
		c.RunE = func(*cobra.Command, []string) error { return nil } // not reached: Args refuses
	}
}

// groupArgs refuses a missing or unknown subcommand of a command that only
// groups others (cobra otherwise prints the help and succeeds).
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usagef(cmd, "%s needs a subcommand", cmd.CommandPath())
	}
	return usagef(cmd, "unknown subcommand %q for %s", args[0], cmd.CommandPath())
}

// execute runs root with args and turns cobra's own errors into usage
// errors.
func execute(root *cobra.Command, r *runner, args []string) error {
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil || r.started {
		return err
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	return &usageError{command: cmd.CommandPath(), err: err}
}

// serverFlags are the flags of the commands that read a configuration.
type serverFlags struct{ config, listen, dataDir string }

func (f *serverFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "configuration file (YAML)")
	fs.StringVar(&f.listen, "listen", "", "address to listen on (overrides the file and STOCKPILE_LISTEN)")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory of the database (overrides the file and STOCKPILE_DATA_DIR)")
}

func (f *serverFlags) load(getenv func(string) string) (*proxy.Config, error) {
	cfg, err := proxy.Load(f.config, getenv)
	if err != nil {
		return nil, err
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	return cfg, nil
}

const envOverrides = `Environment overrides: STOCKPILE_LISTEN, STOCKPILE_DATA_DIR, STOCKPILE_BASE_URL,
STOCKPILE_LOG_LEVEL, STOCKPILE_NPMJS_URL, STOCKPILE_ANONYMOUS_READ.`

func serverCommands(e *env, r *runner) []*cobra.Command {
	type spec struct {
		use, short, long string
		do               func(*proxy.Config) error
	}
	specs := []spec{
		{"serve", "Run the proxy", "Run the proxy until SIGINT or SIGTERM, then shut down gracefully.\n\n" + envOverrides,
			func(cfg *proxy.Config) error { return serve(cfg, e.stderr) }},
		{"check-config", "Check a configuration file", "Load and validate the configuration, reporting every problem with its line.",
			func(*proxy.Config) error { _, err := fmt.Fprintln(e.stdout, "configuration is valid"); return err }},
		{"fsck", "Rehash every blob of a data directory (server stopped)", "Check a data directory offline (the server must be stopped): rehash every blob,\ntake corrupt ones out of service and report the versions that referred to them.\nFails when any was corrupt.",
			func(cfg *proxy.Config) error { return fsck(cfg, e.stdout, e.stderr) }},
		{"rotate-token-key", "Replace the token-signing key (server stopped)", "Replace the token-signing key in the store of a stopped server: every\noutstanding data-plane token is refused from its next start.",
			func(cfg *proxy.Config) error { return rotateTokenKey(cfg, e.stdout, e.stderr) }},
	}
	var out []*cobra.Command
	for _, s := range specs {
		f := &serverFlags{}
		c := &cobra.Command{
			Use: s.use, Short: s.short, Long: s.long,
			Args: noArgs,
			RunE: r.wrap(func(*cobra.Command, []string) error {
				cfg, err := f.load(e.getenv)
				if err != nil {
					return err
				}
				return s.do(cfg)
			}),
		}
		f.add(c.Flags())
		out = append(out, c)
	}
	return out
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef(cmd, "%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// clientFlags are the flags every client command shares.
type clientFlags struct {
	endpoint, domain, profile string
}

func (f *clientFlags) add(fs *pflag.FlagSet, getenv func(string) string) {
	def := getenv("STOCKPILE_ENDPOINT")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&f.endpoint, "endpoint", def, "Stockpile's URL ($STOCKPILE_ENDPOINT; --endpoint-url, as the AWS CLI names it, is the same)")
	fs.StringVar(&f.endpoint, "endpoint-url", def, "the same as --endpoint")
	_ = fs.MarkHidden("endpoint-url")
	fs.StringVar(&f.domain, "domain", "", "domain")
	fs.StringVar(&f.profile, "profile", "", "AWS profile whose credentials sign the calls (default $AWS_PROFILE, else the environment's keys)")
}

// client returns a signed control-plane client for the flags.
func (f *clientFlags) client(getenv func(string) string) (*cpclient.Client, error) {
	creds, err := awscreds.Find(getenv, f.profile, os.ReadFile)
	if err != nil {
		return nil, err
	}
	return &cpclient.Client{Endpoint: f.endpoint, Creds: creds}, nil
}

// call sends one signed control-plane call for the flags' domain and
// prints its answer to e.stdout, indented when it is JSON. what names the
// command in errors ("token create").
func (f *clientFlags) call(e *env, cmd *cobra.Command, what, method, path string, q url.Values, body []byte) error {
	if f.domain == "" {
		return usagef(cmd, "--domain is required")
	}
	cl, err := f.client(e.getenv)
	if err != nil {
		return err
	}
	q.Set("domain", f.domain)
	raw, err := cl.Call(context.Background(), method, path, q, body)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") != nil {
		_, err = e.stdout.Write(raw)
		return err
	}
	pretty.WriteByte('\n')
	_, err = e.stdout.Write(pretty.Bytes())
	return err
}

func versionCommand(e *env, r *runner) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  noArgs,
		RunE: r.wrap(func(*cobra.Command, []string) error {
			bi, ok := debug.ReadBuildInfo()
			if !ok {
				return errors.New("version: no build information in this binary")
			}
			_, err := fmt.Fprint(e.stdout, versionText(bi))
			return err
		}),
	}
}

// versionText describes a build: the module version (or "(devel)"), the
// commit with a "+dirty" mark when the tree was modified, and the Go
// version.
func versionText(bi *debug.BuildInfo) string {
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	commit, modified, when := "unknown", false, ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		case "vcs.time":
			when = s.Value
		}
	}
	if modified {
		commit += "+dirty"
	}
	if when != "" {
		commit += " (" + when + ")"
	}
	return fmt.Sprintf("stockpile %s\ncommit: %s\ngo: %s\n", version, commit, bi.GoVersion)
}
