package controlplane

import (
	"regexp"
	"strings"
	"testing"
)

func TestGenericNames(t *testing.T) {
	// The rules as CodeArtifact states them, as regular expressions: the
	// functions must agree with them (they exist because the compiled
	// {1,255} forms hold megabytes). Names also have no control character,
	// which no record key part may hold.
	nameRE := regexp.MustCompile(`^[^#/\s\p{Cc}]{1,255}$`)
	assetRE := regexp.MustCompile(`^[\p{L}\p{N}~!@^&()\-_+\[\]{};,.` + "`" + `]{1,255}$`)
	tests := []struct {
		name, in          string
		wantName, wantAst bool
	}{
		{"empty", "", false, false},
		{"plain", "tool-1.0.tar.gz", true, true},
		{"version", "1.0.0+build.5", true, true},
		{"slash", "a/b", false, false},
		{"hash", "a#b", false, false},
		{"space", "a b", false, false},
		{"tab", "a\tb", false, false},
		{"newline at end", "ab\n", false, false},
		{"nul", "lib\x00x", false, false},
		{"escape", "a\x1b[0m", false, false},
		{"c1 control", "a\u0085b", false, false},
		{"unicode letters", "пакет-数字", true, true},
		{"unicode digits", "v٣", true, true},
		{"punctuation allowed in assets", "a~!@^&()-_+[]{};,.`z", true, true},
		{"colon", "a:b", true, false},
		{"percent", "a%2e", true, false},
		{"non-breaking space", "a\u00a0b", true, false},
		{"invalid utf-8", "a\xffb", true, false},
		{"255 characters", strings.Repeat("é", 255), true, true},
		{"256 characters", strings.Repeat("é", 256), false, false},
		{"255 bytes of invalid utf-8", strings.Repeat("\xff", 255), true, false},
		{"256 bytes of invalid utf-8", strings.Repeat("\xff", 256), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := genericName(tt.in); got != tt.wantName || got != nameRE.MatchString(tt.in) {
				t.Errorf("genericName(%q) = %v, want %v (regexp %v)", tt.in, got, tt.wantName, nameRE.MatchString(tt.in))
			}
			if got := genericAsset(tt.in); got != tt.wantAst || got != assetRE.MatchString(tt.in) {
				t.Errorf("genericAsset(%q) = %v, want %v (regexp %v)", tt.in, got, tt.wantAst, assetRE.MatchString(tt.in))
			}
		})
	}
}
