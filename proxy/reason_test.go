package proxy

import (
	"strings"
	"testing"
)

func TestReasonPhrase(t *testing.T) {
	tests := []struct {
		name, message, want string
	}{
		{"plain", "not allowed: foo version 1.0 is held", "Forbidden: not allowed: foo version 1.0 is held"},
		{"line breaks and tabs become spaces", "a\r\nb\tc", "Forbidden: a  b c"},
		{"non-ASCII and controls are replaced", "caf\u00e9\x00\x7f", "Forbidden: caf???"},
		{"bounded", strings.Repeat("x", 1000), "Forbidden: " + strings.Repeat("x", maxReasonPhrase-len("Forbidden: ")) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reasonPhrase(403, tt.message); got != tt.want {
				t.Errorf("reasonPhrase = %q, want %q", got, tt.want)
			}
		})
	}
}
