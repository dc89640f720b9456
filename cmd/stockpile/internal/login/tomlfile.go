package login

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// tomlTable is a table this package owns in a TOML file: its header
// ("registries.stockpile", or "index" with array set for [[index]]), how to
// recognise it among several (for arrays of tables), and its lines.
type tomlTable struct {
	header string
	array  bool
	// match picks the array entry to replace from its lines; nil for a
	// plain table.
	match func(lines []string) bool
	lines []string
}

// setTOML replaces each table in a TOML file (Cargo's config.toml, uv.toml,
// poetry's files), from its header to the next header, or appends it. The
// rest of the file is kept line for line; the result is checked to be valid
// TOML, so that a file this cannot edit safely (the table given as dotted
// keys elsewhere) is refused rather than broken.
func setTOML(old []byte, tables ...tomlTable) ([]byte, error) {
	lines := splitLines(old)
	for _, tb := range tables {
		lines = setTOMLTable(lines, tb)
	}
	out := joinLines(lines)
	var v map[string]any
	if _, err := toml.Decode(string(out), &v); err != nil {
		return nil, fmt.Errorf("cannot merge into this file, the result would not be valid TOML (%v): edit it by hand", err)
	}
	return out, nil
}

func setTOMLTable(lines []string, tb tomlTable) []string {
	want := tb.header
	block := append([]string{headerLine(tb)}, tb.lines...)
	for i := 0; i < len(lines); i++ {
		name, array, ok := tomlHeader(lines[i])
		if !ok || name != want || array != tb.array {
			continue
		}
		end := i + 1
		for end < len(lines) {
			if _, _, h := tomlHeader(lines[end]); h {
				break
			}
			end++
		}
		if tb.match != nil && !tb.match(lines[i+1:end]) {
			continue
		}
		// keep the blank lines and comments that lead to the next header
		keep := end
		for keep > i+1 && (strings.TrimSpace(lines[keep-1]) == "" || strings.HasPrefix(strings.TrimSpace(lines[keep-1]), "#")) {
			keep--
		}
		out := append([]string{}, lines[:i]...)
		out = append(out, block...)
		return append(out, lines[keep:]...)
	}
	if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
		lines = append(lines, "")
	}
	return append(lines, block...)
}

func headerLine(tb tomlTable) string {
	if tb.array {
		return "[[" + tb.header + "]]"
	}
	return "[" + tb.header + "]"
}

// tomlHeader reads a table header line: its dotted name with the spaces
// and quotes of simple keys taken out, and whether it is an array table.
func tomlHeader(line string) (name string, array, ok bool) {
	t := strings.TrimSpace(line)
	if i := strings.Index(t, "#"); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch {
	case strings.HasPrefix(t, "[[") && strings.HasSuffix(t, "]]"):
		t, array = t[2:len(t)-2], true
	case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
		t = t[1 : len(t)-1]
	default:
		return "", false, false
	}
	parts := strings.Split(t, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, "."), array, true
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// hasTOMLKey reports whether lines set key to value (for matching an
// array entry by its name).
func hasTOMLKey(key, value string) func([]string) bool {
	return func(lines []string) bool {
		for _, l := range lines {
			k, v, ok := strings.Cut(l, "=")
			if ok && strings.TrimSpace(k) == key && strings.Trim(strings.TrimSpace(v), `"'`) == value {
				return true
			}
		}
		return false
	}
}
