package controlplane

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// routedOperations returns the operation names the package's sources pass
// to h.route, read from the code itself: the routes are the list.
func routedOperations(t *testing.T) []string {
	t.Helper()
	fs := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fs, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "route" || len(call.Args) < 4 {
				return true
			}
			lit, ok := call.Args[3].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("%s: a route's operation name is not a string literal", fs.Position(call.Pos()))
			}
			op, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
			return true
		})
	}
	return ops
}

// TestReadmeListsEveryOperation compares the README's "Supported
// operations" with the CodeArtifact operations the control plane routes
// (and its count), checks that Stockpile's own operations (stockpile:…)
// are named in it, and that it describes the generic format, so the
// README cannot drift from the routes.
func TestReadmeListsEveryOperation(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var routed []string
	for _, op := range routedOperations(t) {
		if own, ok := strings.CutPrefix(op, "stockpile:"); ok {
			if !strings.Contains(string(readme), "`stockpile:"+own+"`") {
				t.Errorf("the control plane serves stockpile:%s, README.md does not name it", own)
			}
			continue
		}
		routed = append(routed, op)
	}
	if len(routed) < 40 {
		t.Fatalf("found %d routed operations in the sources: the parser missed the routes", len(routed))
	}
	section := regexp.MustCompile(`(?s)Supported operations \((\d+),[^\n]*\n\n(.*?)\n\n`).FindSubmatch(readme)
	if section == nil {
		t.Fatal(`README.md has no "Supported operations (N, …):" list`)
	}
	var documented []string
	for _, line := range strings.Split(string(section[2]), "\n") {
		_, ops, ok := strings.Cut(strings.TrimSuffix(strings.TrimSpace(line), "."), ": ")
		if !ok {
			t.Fatalf("README.md operations line %q is not \"- Group: Op, Op.\"", line)
		}
		for _, op := range strings.Split(ops, ",") {
			documented = append(documented, strings.TrimSpace(op))
		}
	}
	slices.Sort(routed)
	slices.Sort(documented)
	for _, op := range routed {
		if _, found := slices.BinarySearch(documented, op); !found {
			t.Errorf("the control plane serves %s, README.md does not list it", op)
		}
	}
	for _, op := range documented {
		if _, found := slices.BinarySearch(routed, op); !found {
			t.Errorf("README.md lists %s, the control plane serves no such operation", op)
		}
	}
	if n, _ := strconv.Atoi(string(section[1])); n != len(routed) || len(documented) != len(routed) {
		t.Errorf("README.md says %s operations and lists %d; the control plane routes %d", section[1], len(documented), len(routed))
	}
	if !strings.Contains(string(readme), "the `generic` format") {
		t.Error("README.md does not describe the generic format")
	}
}
