package upstream

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Default values that WithDefaults puts in zero fields of Options.
const (
	DefaultTTL           = 5 * time.Minute
	DefaultNegativeTTL   = time.Minute
	DefaultMaxConcurrent = 16
	DefaultTimeout       = 30 * time.Second
	DefaultIdleTimeout   = 60 * time.Second
	DefaultRetries       = 2
	DefaultMaxRetryWait  = 10 * time.Second
)

// Options are the settings of one external connection, as they appear under
// external_connections."<name>" in the configuration file. Durations decode
// from YAML strings such as "5m". A zero field means "use the default" (see
// WithDefaults); negative values are rejected by Validate.
type Options struct {
	// URL is the registry's base URL, http or https. Empty means the
	// catalog's DefaultURL.
	URL string `yaml:"url"`
	// TTL is how long a fetched metadata document is considered fresh.
	TTL time.Duration `yaml:"ttl"`
	// NegativeTTL is how long a "not found" answer is remembered.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// MaxConcurrent caps the requests in flight to this connection; a
	// request holds its slot until its response body is closed.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Timeout bounds connecting and waiting for response headers.
	Timeout time.Duration `yaml:"timeout"`
	// IdleTimeout aborts a transfer when no body byte arrives for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Retries is how many times a failed request is retried (network
	// errors, 429, 5xx except 501). Zero means the default.
	Retries int `yaml:"retries"`
	// MaxRetryWait is the longest Retry-After the client sleeps; a longer
	// one fails the request at once.
	MaxRetryWait time.Duration `yaml:"max_retry_wait"`
	// Username and Password are sent as HTTP Basic credentials, and Token
	// as a Bearer token, to the connection's own host only.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// Offline forbids contacting the upstream: every request fails with
	// ErrUnavailable.
	Offline bool `yaml:"offline"`
	// AllowedHosts extends the origins that metadata and redirects may send
	// Stockpile to, beyond the connection's own origin and the catalog's
	// file hosts: "host" (http or https on their default ports),
	// "host:port", or "*.domain".
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowPrivateNetworks lets hosts other than the connection's own
	// resolve to loopback, private, link-local, shared (CGNAT) or metadata
	// addresses.
	AllowPrivateNetworks bool `yaml:"allow_private_networks"`
	// PublishTimes is where the release-age cooldown's publish times come
	// from for formats whose metadata does not date every version (Maven):
	// "metadata" (the default: Maven's lastUpdated dates only the newest
	// version) or "last_modified" (each version's POM's Last-Modified, one
	// cached request per version for the newest ones).
	PublishTimes string `yaml:"publish_times"`
}

// WithDefaults returns a copy of o whose zero fields hold the package
// defaults (the URL is left as is: the catalog supplies it). It never fails.
func (o Options) WithDefaults() Options {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.MaxRetryWait == 0 {
		o.MaxRetryWait = DefaultMaxRetryWait
	}
	return o
}

// Validate checks o for the connection called name. It returns nil or an
// error (several joined with errors.Join) naming the connection and each bad
// setting: a non-empty URL that is not an absolute http or https URL with a
// host, or that embeds credentials; a negative number or duration; a token
// together with a username or password; a password without a username.
// Messages never contain the secret values.
func (o Options) Validate(name string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("external connection %q: "+format, append([]any{name}, args...)...))
	}
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		switch {
		case err != nil:
			bad("url is not a valid URL")
		case u.Scheme != "http" && u.Scheme != "https":
			bad("url %s: scheme must be http or https", u.Redacted())
		case u.Host == "":
			bad("url %s: no host", u.Redacted())
		case u.User != nil:
			bad("url %s: credentials in the URL are not allowed, use username/password or token", u.Redacted())
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"ttl", o.TTL}, {"negative_ttl", o.NegativeTTL}, {"timeout", o.Timeout},
		{"idle_timeout", o.IdleTimeout}, {"max_retry_wait", o.MaxRetryWait},
	} {
		if d.v < 0 {
			bad("%s must not be negative (got %s)", d.key, d.v)
		}
	}
	switch o.PublishTimes {
	case "", "metadata", "last_modified":
	default:
		bad("publish_times %q must be metadata or last_modified", o.PublishTimes)
	}
	if o.MaxConcurrent < 0 {
		bad("max_concurrent must not be negative (got %d)", o.MaxConcurrent)
	}
	if o.Retries < 0 {
		bad("retries must not be negative (got %d)", o.Retries)
	}
	if o.Token != "" && (o.Username != "" || o.Password != "") {
		bad("set either token or username/password, not both")
	}
	if o.Password != "" && o.Username == "" {
		bad("password set without username")
	}
	for _, h := range o.AllowedHosts {
		if _, err := parseHostPattern(h); err != nil {
			bad("%v", err)
		}
	}
	return errors.Join(errs...)
}
