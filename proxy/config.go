package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage/s3"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Config is Stockpile's configuration. config.example.yaml documents every key.
type Config struct {
	Listen          string        `yaml:"listen"`
	DataDir         string        `yaml:"data_dir"`
	BaseURL         string        `yaml:"base_url"`
	LogLevel        string        `yaml:"log_level"`
	LogFormat       string        `yaml:"log_format"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxPublishSize  int64         `yaml:"max_publish_size"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-Proto and
	// X-Forwarded-Host are believed: addresses or CIDR prefixes.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsAuth, when set, is the Bearer token /-/metrics requires.
	MetricsAuth string                      `yaml:"metrics_auth"`
	HTTP        HTTPConfig                  `yaml:"http"`
	Auth        AuthConfig                  `yaml:"auth"`
	Storage     StorageConfig               `yaml:"storage"`
	Connections map[string]upstream.Options `yaml:"external_connections"`
	Domains     []DomainConfig              `yaml:"domains"`
	// MaxMetadataSize bounds what a publish sends besides its file and
	// what is read from a package archive into memory.
	MaxMetadataSize int64 `yaml:"max_metadata_size"`
	// MaxConcurrentPublishes bounds the data-plane writes in progress at
	// once; more get 429 with Retry-After.
	MaxConcurrentPublishes int `yaml:"max_concurrent_publishes"`
	// Firewall configures the supply-chain firewall's known-malicious
	// advisories (cooldowns are set per repository).
	Firewall FirewallConfig `yaml:"firewall"`

	// lines maps a place in the file ("domains[0].repositories[1]") to its
	// line, for messages.
	lines map[string]int
}

// AuthConfig configures who may use the server.
type AuthConfig struct {
	// Account is the 12-digit account id of every ARN and owner field, and
	// of every principal.
	Account       string      `yaml:"account"`
	AccessKeys    []AccessKey `yaml:"access_keys"`
	AnonymousRead bool        `yaml:"anonymous_read"`
	// TokenTTL is the default lifetime of GetAuthorizationToken tokens.
	TokenTTL time.Duration `yaml:"token_ttl"`
}

// AccessKey is a control-plane credential, as the AWS CLI is given it.
type AccessKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
	// Principal is the ARN the key acts as (arn:aws:iam::ACCOUNT:user/NAME
	// or …:role/NAME); empty means arn:aws:iam::ACCOUNT:user/ID.
	Principal string `yaml:"principal"`
	// Admin allows every action; otherwise Policy (inline JSON) or
	// PolicyFile is the principal's identity policy. See principals.go.
	Admin      bool   `yaml:"admin"`
	Policy     string `yaml:"policy"`
	PolicyFile string `yaml:"policy_file"`
	// TokensNotBefore refuses the key's data-plane tokens minted before it.
	TokensNotBefore time.Time `yaml:"tokens_not_before"`
}

// FirewallConfig configures the supply-chain firewall.
type FirewallConfig struct {
	OSV OSVConfig `yaml:"osv"`
}

// OSVConfig names the known-malicious advisories (OSV format) to block
// versions by.
type OSVConfig struct {
	// Path is a directory tree of OSV JSON documents, or a .zip archive of
	// them; empty turns the blocking off.
	Path string `yaml:"path"`
	// Refresh is how often Path is read again (SIGHUP reads it at once).
	Refresh time.Duration `yaml:"refresh"`
}

// StorageConfig chooses and tunes the store.
type StorageConfig struct {
	// Backend is "badger" (the embedded default, in data_dir) or "postgres"
	// (records in PostgreSQL, blobs in S3: what several replicas share).
	Backend    string         `yaml:"backend"`
	Postgres   PostgresConfig `yaml:"postgres"`
	S3         s3.Options     `yaml:"s3"`
	GCInterval time.Duration  `yaml:"gc_interval"`
	// BlobGCInterval is how often blobs nothing refers to are deleted.
	BlobGCInterval time.Duration `yaml:"blob_gc_interval"`
	// BlobGCGrace spares blobs written this recently.
	BlobGCGrace time.Duration `yaml:"blob_gc_grace"`
	// ScrubRate is the bytes per second the background scrub rehashes
	// blobs at; 0 turns it off.
	ScrubRate int64 `yaml:"scrub_rate"`
	// ScrubInterval is the least time between the starts of two scrub
	// passes over every blob.
	ScrubInterval time.Duration `yaml:"scrub_interval"`
}

// PostgresConfig is storage.postgres.
type PostgresConfig struct {
	// DSN is a libpq connection string or URL; ${NAME} reads the
	// environment.
	DSN string `yaml:"dsn"`
}

// DomainConfig is a domain to create or update at start.
type DomainConfig struct {
	Name         string             `yaml:"name"`
	Repositories []RepositoryConfig `yaml:"repositories"`
	// Firewall is the domain's blocklist and allowlist of package versions.
	Firewall *firewall.Lists `yaml:"firewall"`
}

// CompileLists validates a domain's blocklist and allowlist and returns
// them ready to match (nil for none).
func (d DomainConfig) CompileLists() (*firewall.CompiledLists, error) {
	if d.Firewall == nil {
		return nil, nil
	}
	return d.Firewall.Compile(func(raw string) (firewall.Matcher, error) { return model.ParsePattern(raw) })
}

// RepositoryConfig is a repository to create or update at start.
type RepositoryConfig struct {
	Name               string   `yaml:"name"`
	Description        string   `yaml:"description"`
	Upstreams          []string `yaml:"upstreams"`
	ExternalConnection string   `yaml:"external_connection"`
	// Cooldown holds back versions arriving through external connections
	// until they are min_age old; nil leaves what the repository has (set
	// at run time, or by an earlier start) as it is.
	Cooldown *firewall.Cooldown `yaml:"cooldown"`
}

// Defaults returns the configuration used for keys a file leaves out.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "./data",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 30 * time.Second,
		MaxPublishSize:  2 << 30,
		Auth:            AuthConfig{TokenTTL: 12 * time.Hour, Account: "000000000000"},
		Storage: StorageConfig{Backend: "badger", S3: s3.Options{Region: "us-east-1", CacheSize: 10 << 30, AbandonedUploadAge: 24 * time.Hour}, GCInterval: 5 * time.Minute, BlobGCInterval: time.Hour, BlobGCGrace: time.Hour,
			ScrubRate: 8 << 20, ScrubInterval: 24 * time.Hour},
		HTTP:                   defaultHTTPConfig(),
		MaxMetadataSize:        4 << 20,
		MaxConcurrentPublishes: 16,
		Firewall:               FirewallConfig{OSV: OSVConfig{Refresh: time.Hour}},
	}
}

// Env lists the environment variables that override the file.
var envKeys = []string{"STOCKPILE_LISTEN", "STOCKPILE_DATA_DIR", "STOCKPILE_BASE_URL", "STOCKPILE_LOG_LEVEL", "STOCKPILE_NPMJS_URL", "STOCKPILE_ANONYMOUS_READ"}

// Load reads a configuration file (strictly: unknown keys are errors), applies
// the environment overrides (getenv is usually os.Getenv) and validates the
// result, reporting every problem at once with the line it comes from. An
// empty path loads the defaults and the environment only.
func Load(path string, getenv func(string) string) (*Config, error) {
	cfg := Defaults()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := cfg.parse(raw); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s:\n%w", path, err)
		}
		return nil, fmt.Errorf("config:\n%w", err)
	}
	return &cfg, nil
}

func (c *Config) parse(raw []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return err
	}
	c.lines = map[string]int{}
	if len(root.Content) == 1 {
		walkLines(root.Content[0], "", c.lines)
	}
	// ${NAME} in secrets reads the environment, so files can be committed.
	for i := range c.Auth.AccessKeys {
		c.Auth.AccessKeys[i].Secret = os.ExpandEnv(c.Auth.AccessKeys[i].Secret)
	}
	c.MetricsAuth = os.ExpandEnv(c.MetricsAuth)
	c.Storage.Postgres.DSN = os.ExpandEnv(c.Storage.Postgres.DSN)
	c.Storage.S3.AccessKeyID = os.ExpandEnv(c.Storage.S3.AccessKeyID)
	c.Storage.S3.SecretAccessKey = os.ExpandEnv(c.Storage.S3.SecretAccessKey)
	for name, o := range c.Connections {
		o.Password = os.ExpandEnv(o.Password)
		o.Token = os.ExpandEnv(o.Token)
		c.Connections[name] = o
	}
	return nil
}

// walkLines records the line of every mapping value and sequence item.
func walkLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			out[p] = n.Content[i].Line
			walkLines(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = item.Line
			walkLines(item, p, out)
		}
	}
}

func (c *Config) at(path string) string {
	if l, ok := c.lines[path]; ok {
		return fmt.Sprintf("line %d: ", l)
	}
	return ""
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	if v := getenv("STOCKPILE_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("STOCKPILE_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := getenv("STOCKPILE_BASE_URL"); v != "" {
		c.BaseURL = v
	}
	if v := getenv("STOCKPILE_LOG_LEVEL"); v != "" {
		c.LogLevel = v
	}
	if v := getenv("STOCKPILE_NPMJS_URL"); v != "" {
		if c.Connections == nil {
			c.Connections = map[string]upstream.Options{}
		}
		o := c.Connections["public:npmjs"]
		o.URL = v
		c.Connections["public:npmjs"] = o
	}
	if v := getenv("STOCKPILE_ANONYMOUS_READ"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("STOCKPILE_ANONYMOUS_READ=%q is not a boolean", v)
		}
		c.Auth.AnonymousRead = b
	}
	return nil
}

// Validate returns every problem of the configuration, joined.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s", c.at(path), fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "listen %q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		add("data_dir", "data_dir is empty")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("base_url", "base_url %q must be an absolute http(s) URL", c.BaseURL)
		}
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		add("trusted_proxies", "%v", err)
	}
	c.HTTP.validate(add)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "log_level %q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		add("log_format", "log_format %q must be text or json", c.LogFormat)
	}
	c.Storage.validateBackend(add)
	if c.Storage.ScrubRate < 0 || c.Storage.ScrubInterval < 0 {
		add("storage", "storage.scrub_rate and storage.scrub_interval must not be negative")
	}
	if c.MaxPublishSize <= 0 {
		add("max_publish_size", "max_publish_size must be positive")
	}
	if c.MaxMetadataSize < 64<<10 || c.MaxMetadataSize > 1<<30 {
		add("max_metadata_size", "max_metadata_size %d must be between 64 KiB and 1 GiB", c.MaxMetadataSize)
	}
	if c.Firewall.OSV.Path != "" && c.Firewall.OSV.Refresh < time.Minute {
		add("firewall.osv.refresh", "firewall.osv.refresh %s must be at least 1m", c.Firewall.OSV.Refresh)
	}
	if c.MaxConcurrentPublishes < 1 {
		add("max_concurrent_publishes", "max_concurrent_publishes must be at least 1")
	}
	if c.Storage.BlobGCInterval <= 0 || c.Storage.BlobGCGrace < 0 {
		add("storage", "storage.blob_gc_interval must be positive and storage.blob_gc_grace not negative")
	}
	if c.Auth.TokenTTL < 15*time.Minute || c.Auth.TokenTTL > 12*time.Hour {
		add("auth.token_ttl", "auth.token_ttl %s must be between 15m and 12h", c.Auth.TokenTTL)
	}
	c.validateAccessKeys(add)
	errs = append(errs, c.validatePrincipals()...)
	c.validateConnections(add)
	c.validateDomains(add)
	return errors.Join(errs...)
}

// addFunc records one problem of the configuration at a YAML path.
type addFunc func(path, format string, args ...any)

// validateAccessKeys checks auth.access_keys.
func (c *Config) validateAccessKeys(add addFunc) {
	ids := map[string]bool{}
	for i, k := range c.Auth.AccessKeys {
		p := fmt.Sprintf("auth.access_keys[%d]", i)
		if k.ID == "" || k.Secret == "" {
			add(p, "access key %d needs an id and a secret", i+1)
		}
		if ids[k.ID] {
			add(p, "access key %q is listed twice", k.ID)
		}
		ids[k.ID] = true
	}
}

// validateConnections checks external_connections.
func (c *Config) validateConnections(add addFunc) {
	for name, o := range c.Connections {
		p := "external_connections." + name
		if _, ok := upstream.Lookup(name); !ok {
			add(p, "external connection %q is not one of %s", name, strings.Join(model.ConnectionNames(), ", "))
			continue
		}
		if o.URL != "" || o.PublishTimes != "" {
			if err := o.WithDefaults().Validate(name); err != nil {
				add(p, "%v", err)
			}
		}
	}
}

// validateDomains checks domains, their repositories and upstream graphs.
func (c *Config) validateDomains(add addFunc) {
	domains := map[string]bool{}
	for i, d := range c.Domains {
		dp := fmt.Sprintf("domains[%d]", i)
		if err := model.ValidateDomainName(d.Name); err != nil {
			add(dp, "%v", err)
		}
		if domains[d.Name] {
			add(dp, "domain %q is listed twice", d.Name)
		}
		domains[d.Name] = true
		if _, err := d.CompileLists(); err != nil {
			add(dp+".firewall", "domain %s: firewall: %v", d.Name, err)
		}
		repos := validateRepositories(dp, d, add)
		if cyc := findCycle(d); cyc != nil {
			add(fmt.Sprintf("%s.repositories[%d]", dp, repos[cyc[0]]), "upstreams form a cycle: %s", strings.Join(cyc, " → "))
		}
	}
}

// validateRepositories checks the repositories of domain d (at YAML path
// dp) and their upstreams, and returns each repository's index by name.
func validateRepositories(dp string, d DomainConfig, add addFunc) map[string]int {
	repos := map[string]int{}
	for j, r := range d.Repositories {
		rp := fmt.Sprintf("%s.repositories[%d]", dp, j)
		if err := model.ValidateRepositoryName(r.Name); err != nil {
			add(rp, "%v", err)
		}
		if err := model.ValidateDescription(r.Description); err != nil {
			add(rp, "repository %s: %v", r.Name, err)
		}
		if _, dup := repos[r.Name]; dup {
			add(rp, "repository %q is listed twice in domain %s", r.Name, d.Name)
		}
		repos[r.Name] = j
		if r.ExternalConnection != "" {
			if _, ok := upstream.Lookup(r.ExternalConnection); !ok {
				add(rp+".external_connection", "repository %s: external connection %q is not one of %s (a repository has at most one)", r.Name, r.ExternalConnection, strings.Join(model.ConnectionNames(), ", "))
			}
		}
		if r.Cooldown != nil {
			if err := model.ValidateCooldown(*r.Cooldown); err != nil {
				add(rp+".cooldown", "repository %s: %v", r.Name, err)
			}
		}
		if len(r.Upstreams) > model.MaxUpstreams {
			add(rp+".upstreams", "repository %s lists %d upstreams; at most %d are allowed", r.Name, len(r.Upstreams), model.MaxUpstreams)
		}
	}
	for j, r := range d.Repositories {
		rp := fmt.Sprintf("%s.repositories[%d].upstreams", dp, j)
		seen := map[string]bool{}
		for _, u := range r.Upstreams {
			if _, ok := repos[u]; !ok {
				add(rp, "repository %s: upstream %q is not a repository of domain %s", r.Name, u, d.Name)
			}
			if u == r.Name {
				add(rp, "repository %s cannot be its own upstream", r.Name)
			}
			if seen[u] {
				add(rp, "repository %s lists upstream %q twice", r.Name, u)
			}
			seen[u] = true
		}
	}
	return repos
}

// findCycle returns one upstream cycle among a domain's repositories, or nil.
func findCycle(d DomainConfig) []string {
	ups := map[string][]string{}
	for _, r := range d.Repositories {
		ups[r.Name] = r.Upstreams
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, u := range ups[n] {
			if _, ok := ups[u]; !ok {
				continue
			}
			if color[u] == grey {
				for i, s := range stack {
					if s == u {
						found = append(append([]string{}, stack[i:]...), u)
					}
				}
				return true
			}
			if color[u] == white && visit(u) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, r := range d.Repositories {
		if color[r.Name] == white && visit(r.Name) {
			return found
		}
	}
	return nil
}

// Open reports whether anyone may call the server without credentials: true
// when no access keys are configured.
func (c *Config) Open() bool { return len(c.Auth.AccessKeys) == 0 }

// validateBackend checks storage.backend and, for postgres, the keys it
// needs.
func (c *StorageConfig) validateBackend(add func(path, format string, args ...any)) {
	switch c.Backend {
	case "badger":
	case "postgres":
		if c.Postgres.DSN == "" {
			add("storage.postgres.dsn", "storage.backend postgres needs storage.postgres.dsn")
		}
		if c.S3.Bucket == "" {
			add("storage.s3.bucket", "storage.backend postgres keeps blobs in S3: set storage.s3.bucket")
		}
		if c.S3.CacheDir == "" {
			add("storage.s3.cache_dir", "storage.backend postgres needs storage.s3.cache_dir, a local directory of this replica's own")
		}
		if c.S3.CacheSize <= 0 {
			add("storage.s3.cache_size", "storage.s3.cache_size must be positive")
		}
		if c.S3.Endpoint != "" {
			if u, err := url.Parse(c.S3.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("storage.s3.endpoint", "storage.s3.endpoint %q must be an absolute http(s) URL", c.S3.Endpoint)
			}
		}
		if c.S3.AbandonedUploadAge != 0 && c.S3.AbandonedUploadAge < time.Hour {
			add("storage.s3.abandoned_upload_age", "storage.s3.abandoned_upload_age must be at least 1h (an upload in progress must not be aborted), or 0 to keep abandoned uploads")
		}
		if c.S3.PartSize != 0 && c.S3.PartSize < 5<<20 {
			add("storage.s3.part_size", "storage.s3.part_size must be at least 5 MiB (S3's least part)")
		}
	default:
		add("storage.backend", "storage.backend %q must be badger or postgres", c.Backend)
	}
}
