package npm

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// TestTarballHostRules: an upstream packument cannot make Stockpile fetch
// from an origin the connection does not allow — neither by naming it as a
// version's tarball nor by redirecting the tarball there. The internal
// target receives no request, the client gets a 502 naming the rule, and
// nothing of the target (its bytes or their digest) reaches the client.
func TestTarballHostRules(t *testing.T) {
	secret := []byte("internal secret, never to be served")
	sum := sha1.Sum(secret)
	secretSHA1 := hex.EncodeToString(sum[:])
	tests := []struct {
		name     string
		redirect bool // the packument names the fake registry, which 302s to the internal target
	}{
		{name: "packument names another origin"},
		{name: "upstream redirects to another origin", redirect: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			internal := upstreamtest.New(t) // same address, another port: another origin
			internal.Handle("/internal-secret", upstreamtest.Response{Body: secret})
			tarball := internal.URL + "/internal-secret"
			if tt.redirect {
				e.fake.HandleFunc("/evil/-/evil-1.0.0.tgz", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, internal.URL+"/internal-secret", http.StatusFound)
				})
				tarball = e.fake.URL + "/evil/-/evil-1.0.0.tgz"
			}
			doc, _ := json.Marshal(map[string]any{
				"name": "evil", "dist-tags": map[string]string{"latest": "1.0.0"},
				"versions": map[string]any{"1.0.0": map[string]any{
					"name": "evil", "version": "1.0.0",
					// No integrity, a wrong shasum: the answer must not
					// reveal the real one.
					"dist": map[string]any{"tarball": tarball, "shasum": strings.Repeat("0", 40)},
				}},
			})
			e.fake.Handle("/evil", upstreamtest.Response{Body: doc, ContentType: "application/json"})

			r := e.get("app", tarballPath("evil", "1.0.0"))
			msg := r.npmError(t, http.StatusBadGateway)
			if !strings.Contains(msg, "allowed_hosts") {
				t.Errorf("error %q does not name the rule (allowed_hosts)", msg)
			}
			if n := internal.TotalHits(); n != 0 {
				t.Errorf("the internal target received %d requests", n)
			}
			body := string(r.body)
			if strings.Contains(body, secretSHA1) || strings.Contains(body, string(secret)) {
				t.Errorf("the answer reveals the internal resource: %s", body)
			}
		})
	}
}
