package pypi

import "testing"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, accept string
		want         repr
	}{
		{"none", "", reprHTML},
		{"any", "*/*", reprHTML},
		{"text/html", "text/html", reprHTML},
		{"pip", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01", reprJSON},
		{"uv", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01", reprJSON},
		{"poetry json only", "application/vnd.pypi.simple.v1+json", reprJSON},
		{"html preferred", "application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json; q=0.5", reprHTMLv1},
		{"json refused", "application/vnd.pypi.simple.v1+json;q=0", reprHTML},
		{"latest json", "application/vnd.pypi.simple.latest+json", reprJSON},
		{"latest html", "application/vnd.pypi.simple.latest+html", reprHTMLv1},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", reprHTML},
		{"wildcard and json equal", "*/*, application/vnd.pypi.simple.v1+json", reprJSON},
		{"text wildcard", "text/*", reprHTML},
		{"case and spaces", " Application/Vnd.Pypi.Simple.V1+JSON ; Q=0.9 ", reprJSON},
		{"xml only", "application/xml", reprNone},
		{"garbage", "nonsense", reprNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := negotiate(tt.accept); got != tt.want {
				t.Fatalf("negotiate(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}
