package upstream

import (
	"net/netip"
	"net/url"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},
		{"151.101.0.223", true},
		{"2606:4700::1111", true},
		{"127.0.0.1", false},
		{"127.5.6.7", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fd00:ec2::254", false},   // EC2 metadata over IPv6
		{"fe80::1", false},
		{"fc00::5", false},
		{"100.64.0.1", false}, // CGNAT
		{"100.127.255.254", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::a00:1", false}, // NAT64 of 10.0.0.1
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"198.18.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := publicAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("publicAddr(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestHostPattern(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		url     string
		want    bool
	}{
		{"host on https default", "files.example.org", "https://files.example.org/a", true},
		{"host on http default", "files.example.org", "http://files.example.org:80/a", true},
		{"host other port", "files.example.org", "https://files.example.org:8443/a", false},
		{"case", "Files.Example.org", "https://FILES.example.org/a", true},
		{"port given", "files.example.org:8443", "https://files.example.org:8443/a", true},
		{"port given, other port", "files.example.org:8443", "https://files.example.org/a", false},
		{"port given, default", "files.example.org:443", "https://files.example.org/a", true},
		{"loopback port", "127.0.0.1:9000", "http://127.0.0.1:9000/x", true},
		{"loopback other port", "127.0.0.1:9000", "http://127.0.0.1:9001/x", false},
		{"wildcard", "*.example.org", "https://cdn.example.org/a", true},
		{"wildcard deep", "*.example.org", "https://a.b.example.org/a", true},
		{"wildcard not apex", "*.example.org", "https://example.org/a", false},
		{"wildcard not suffix trick", "*.example.org", "https://evilexample.org/a", false},
		{"other host", "files.example.org", "https://files.example.org.evil.test/a", false},
		{"ipv6", "[::1]:9000", "http://[::1]:9000/a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseHostPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tt.url)
			if got := p.matches(u); got != tt.want {
				t.Errorf("%q matches %s = %v, want %v", tt.pattern, tt.url, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "https://files.example.org", "user@host", "*.", "a.*.org", "*"} {
		if _, err := parseHostPattern(bad); err == nil {
			t.Errorf("parseHostPattern(%q) succeeded", bad)
		}
	}
}
