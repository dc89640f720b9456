package firewall

import (
	"errors"
	"strings"
	"testing"
)

// exact matches "/FORMAT/NAMESPACE/NAME$" patterns, as the model's parser
// does for them, and refuses anything else.
type exact struct{ format, namespace, name string }

func (e exact) Matches(format, namespace, name string) bool {
	return e.format == format && e.namespace == namespace && e.name == name
}

func parseExact(raw string) (Matcher, error) {
	parts := strings.Split(strings.TrimSuffix(raw, "$"), "/")
	if len(parts) != 4 || parts[0] != "" || !strings.HasSuffix(raw, "$") {
		return nil, errors.New("bad pattern " + raw)
	}
	return exact{parts[1], parts[2], parts[3]}, nil
}

func TestLists(t *testing.T) {
	l := Lists{
		Block: []Rule{{Package: "/npm//left-pad$", Versions: []string{"1.1.0"}, Reason: "incident 42"}},
		Allow: []Rule{
			{Package: "/npm//lodash$", Reason: "vetted"},
			{Package: "/nuget//contoso.many$", Versions: []string{"2.0.0-Alpha"}, Reason: "vetted", OverrideMalicious: true},
		},
	}
	c, err := l.Compile(parseExact)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                            string
		format, namespace, pkg, version string
		blocked, allowed                bool
	}{
		{"a blocked version", "npm", "", "left-pad", "1.1.0", true, false},
		{"another version of a blocked package", "npm", "", "left-pad", "1.0.0", false, false},
		{"every version of an allowed package", "npm", "", "lodash", "4.17.21", false, true},
		{"NuGet versions ignore case", "nuget", "", "contoso.many", "2.0.0-alpha", false, true},
		{"npm versions do not", "npm", "", "left-pad", "1.1.0-X", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Blocked(tt.format, tt.namespace, tt.pkg, tt.version) != nil; got != tt.blocked {
				t.Errorf("Blocked = %v, want %v", got, tt.blocked)
			}
			if got := c.Allowed(tt.format, tt.namespace, tt.pkg, tt.version) != nil; got != tt.allowed {
				t.Errorf("Allowed = %v, want %v", got, tt.allowed)
			}
		})
	}
	if !c.MayBlock("npm", "", "left-pad") || c.MayBlock("npm", "", "lodash") {
		t.Error("MayBlock")
	}
	var none *CompiledLists
	if none.Blocked("npm", "", "left-pad", "1.1.0") != nil || none.Allowed("npm", "", "x", "1") != nil || none.MayBlock("npm", "", "x") {
		t.Error("a nil list matched")
	}
}

func TestListsValidate(t *testing.T) {
	_, err := Lists{
		Block: []Rule{{Package: "npm/x", Reason: "r"}, {Package: "/npm//x$"}, {Package: "/npm//y$", Reason: "r", OverrideMalicious: true}},
	}.Compile(parseExact)
	for _, want := range []string{"block[0]: bad pattern npm/x", "block[1]: a reason is required", "block[2]: override_malicious belongs to allow rules"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile error %v lacks %q", err, want)
		}
	}
}
