package npm

import (
	"net/http"
	"strings"
	"testing"
)

// TestForwardedHostUntrusted: without trusted_proxies, X-Forwarded-Host and
// -Proto from the client do not rewrite the tarball URLs Stockpile serves.
func TestForwardedHostUntrusted(t *testing.T) {
	e := newEnv(t, nil)
	var p packument
	e.get("app", "left-pad-lite", "Accept", "application/json",
		"X-Forwarded-Host", "attacker.example", "X-Forwarded-Proto", "https").must(t, http.StatusOK).json(t, &p)
	for v := range p.Versions {
		tb := p.version(t, v).Dist.Tarball
		if !strings.HasPrefix(tb, e.url("app", "")) {
			t.Errorf("version %s: tarball %q, want it under %s", v, tb, e.url("app", ""))
		}
	}
}
