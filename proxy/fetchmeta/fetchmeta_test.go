package fetchmeta

import (
	"net/http/httptest"
	"testing"
)

func TestCrossSite(t *testing.T) {
	tests := []struct {
		name         string
		site, origin string
		want         bool
	}{
		{"no headers (a package manager)", "", "", false},
		{"same origin", "same-origin", "http://127.0.0.1:8080", false},
		{"typed in the address bar", "none", "", false},
		{"another site", "cross-site", "", true},
		{"same site, other origin", "same-site", "", true},
		{"origin of another host", "", "http://evil.example", true},
		{"origin of this host, other case", "", "http://127.0.0.1:8080", false},
		{"opaque origin", "", "null", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "http://127.0.0.1:8080/v1/domains", nil)
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if got := CrossSite(req); got != tc.want {
				t.Errorf("CrossSite = %v, want %v", got, tc.want)
			}
		})
	}
}
