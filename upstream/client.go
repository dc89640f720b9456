package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/sync/semaphore"
)

// Client holds one Conn per catalog connection. It is safe for concurrent
// use and immutable after New.
type Client struct {
	conns map[string]*Conn
}

// Conn is one external connection: its settings, its own HTTP client and its
// concurrency limit. It is safe for concurrent use.
type Conn struct {
	conn    Connection
	opts    Options
	base    *url.URL // nil when no URL is configured
	log     *slog.Logger
	sem     *semaphore.Weighted
	queued  atomic.Int32 // requests waiting for a slot of sem
	http    *http.Client
	retry   *retryablehttp.Client // retries per Options.Retries
	once    *retryablehttp.Client // no retries, for unsafe methods
	authHdr string                // Authorization value, "" without credentials
	allowed []hostPattern         // origins other than base that may be contacted
}

// New builds the Client from the per-connection settings in conns, keyed by
// catalog name. Connections absent from conns get the defaults and their
// catalog URL; a configured URL replaces the catalog's. log may be nil. It
// returns an error, joining every problem with errors.Join, when a key is not
// a catalog name or a connection's Options fail Validate; a connection left
// without URL is not an error here (Client.Conn reports it).
func New(conns map[string]Options, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	names := make([]string, 0, len(conns))
	for name := range conns {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, ok := Lookup(name); !ok {
			errs = append(errs, fmt.Errorf("unknown external connection %q (known: %s)", name, knownNames()))
			continue
		}
		if err := conns[name].Validate(name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &Client{conns: make(map[string]*Conn)}
	for _, cc := range Catalog() {
		o := conns[cc.Name].WithDefaults()
		if o.URL == "" {
			o.URL = cc.DefaultURL
		}
		c.conns[cc.Name] = newConn(cc, o, log)
	}
	return c, nil
}

// knownNames lists the catalog names for error messages.
func knownNames() string {
	var names []string
	for _, c := range Catalog() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// Conn returns the connection called name. It fails with a plain error for a
// name outside the catalog, and with an error wrapping ErrNotConfigured, that
// names the setting to fill, when the connection has no URL.
func (c *Client) Conn(name string) (*Conn, error) {
	cn, ok := c.conns[name]
	if !ok {
		return nil, fmt.Errorf("unknown external connection %q (known: %s)", name, knownNames())
	}
	if cn.base == nil {
		return nil, &notConfiguredError{conn: cn.conn}
	}
	return cn, nil
}

// CloseIdleConnections closes the idle keep-alive connections of every Conn.
func (c *Client) CloseIdleConnections() {
	for _, cn := range c.conns {
		cn.http.CloseIdleConnections()
	}
}

// newConn builds a Conn; o has defaults applied and has been validated.
func newConn(cc Connection, o Options, log *slog.Logger) *Conn {
	cn := &Conn{
		conn:    cc,
		opts:    o,
		log:     log.With("upstream", cc.Name),
		sem:     semaphore.NewWeighted(int64(o.MaxConcurrent)),
		allowed: allowedPatterns(cc, o),
	}
	if o.URL != "" {
		u, _ := url.Parse(o.URL) // validated
		cn.base = normalizeBase(cc.Format, u)
	}
	switch {
	case o.Token != "":
		cn.authHdr = "Bearer " + o.Token
	case o.Username != "":
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(o.Username, o.Password)
		cn.authHdr = r.Header.Get("Authorization")
	}
	cn.http = cn.newHTTPClient()
	cn.retry = cn.newRetryClient(o.Retries)
	cn.once = cn.newRetryClient(0)
	return cn
}

// normalizeBase makes a base URL a directory (trailing slash), as every
// ecosystem client treats its registry URL, except for NuGet whose URL names
// the service index document.
func normalizeBase(format string, u *url.URL) *url.URL {
	u.Fragment, u.RawFragment = "", ""
	if format != "nuget" && !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u
}

// Name returns the connection's catalog name, "public:pypi".
func (cn *Conn) Name() string { return cn.conn.Name }

// Format returns the package format the connection serves, "pypi".
func (cn *Conn) Format() string { return cn.conn.Format }

// URL returns the connection's base URL. Except for NuGet's service index it
// ends with a slash.
func (cn *Conn) URL() string { return cn.base.String() }

// Options returns the connection's settings with defaults applied.
func (cn *Conn) Options() Options { return cn.opts }

// Resolve returns the absolute URL for ref: an absolute URL is kept as it
// is, anything else is resolved against the base URL following RFC 3986
// ("simple/requests/" lands under the base path, "/x" at the host's root).
// It fails only for a ref that does not parse; whether the result may be
// contacted (its scheme and origin) is decided when it is fetched, which
// fails with a *RefusedError.
func (cn *Conn) Resolve(ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("upstream %s: bad reference %q: %w", cn.conn.Name, ref, err)
	}
	return cn.base.ResolveReference(r).String(), nil
}
