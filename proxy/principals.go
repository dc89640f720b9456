package proxy

import (
	"fmt"
	"os"
	"regexp"

	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
)

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// AccessMode says how requests are authorised.
type AccessMode int

// Access modes.
const (
	// ModeOpen: no access keys; everything is allowed (loopback only).
	ModeOpen AccessMode = iota
	// ModeAllAdmin: access keys, none with a policy; every key may do
	// everything (resource policies can still deny).
	ModeAllAdmin
	// ModePolicies: some key has a policy or admin: true; identity and
	// resource policies decide, and a key without either is denied
	// everything.
	ModePolicies
)

// AccessMode returns how this configuration authorises requests.
func (c *Config) AccessMode() AccessMode {
	if c.Open() {
		return ModeOpen
	}
	for _, k := range c.Auth.AccessKeys {
		if k.Admin || k.Policy != "" || k.PolicyFile != "" {
			return ModePolicies
		}
	}
	return ModeAllAdmin
}

// principalARN is the ARN key acts as.
func (c *Config) principalARN(k AccessKey) string {
	if k.Principal != "" {
		return k.Principal
	}
	return "arn:aws:iam::" + c.Auth.Account + ":user/" + k.ID
}

// validatePrincipals checks the account, each key's principal and its
// identity policy.
func (c *Config) validatePrincipals() []error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s", c.at(path), fmt.Sprintf(format, args...)))
	}
	if !accountRE.MatchString(c.Auth.Account) {
		add("auth.account", "auth.account %q must be a 12-digit account id", c.Auth.Account)
	}
	for i, k := range c.Auth.AccessKeys {
		p := fmt.Sprintf("auth.access_keys[%d]", i)
		if k.Principal != "" {
			if err := iam.ValidPrincipalARN(k.Principal); err != nil {
				add(p+".principal", "access key %s: %v", k.ID, err)
			} else if a := iam.AccountOf(k.Principal); a != c.Auth.Account {
				add(p+".principal", "access key %s: principal %s is not in account %s (auth.account)", k.ID, k.Principal, c.Auth.Account)
			}
		}
		n := 0
		for _, set := range []bool{k.Admin, k.Policy != "", k.PolicyFile != ""} {
			if set {
				n++
			}
		}
		if n > 1 {
			add(p, "access key %s: admin, policy and policy_file exclude each other", k.ID)
			continue
		}
		if _, err := c.identityPolicy(k); err != nil {
			add(p, "access key %s: %v", k.ID, err)
		}
	}
	return errs
}

// identityPolicy returns the key's identity policy: allow-all for admin:
// true and for every key when no key names a policy, nil (denied
// everything) for a key without one otherwise.
func (c *Config) identityPolicy(k AccessKey) (*iam.Policy, error) {
	doc := []byte(k.Policy)
	switch {
	case k.Admin:
		return iam.AllowAll(), nil
	case k.PolicyFile != "":
		b, err := os.ReadFile(k.PolicyFile)
		if err != nil {
			return nil, fmt.Errorf("policy_file: %w", err)
		}
		doc = b
	case k.Policy == "":
		if c.AccessMode() == ModeAllAdmin {
			return iam.AllowAll(), nil
		}
		return nil, nil
	}
	p, err := iam.Parse(doc, iam.Identity)
	if err != nil {
		return nil, fmt.Errorf("identity policy: %w", err)
	}
	return p, nil
}

// Principals returns who each access key acts as, with its identity policy.
func (c *Config) Principals() ([]access.Principal, error) {
	out := make([]access.Principal, 0, len(c.Auth.AccessKeys))
	for _, k := range c.Auth.AccessKeys {
		pol, err := c.identityPolicy(k)
		if err != nil {
			return nil, fmt.Errorf("access key %s: %w", k.ID, err)
		}
		out = append(out, access.Principal{KeyID: k.ID, ARN: c.principalARN(k), Policy: pol, NotBefore: k.TokensNotBefore})
	}
	return out, nil
}
