package login

import (
	"strings"
)

// kv is one setting.
type kv struct{ key, value string }

// setLines sets keys in a file of one setting per line, as sep joins them
// (".npmrc": "key=value"; Bundler's config: "KEY: value"): a line whose key
// matches is replaced (and later duplicates dropped), a missing key is
// appended. Comments and every other line are kept as they were.
func setLines(old []byte, sep string, sets []kv) []byte {
	// "key = value" is the same setting as "key=value"; a YAML key may
	// hold ":" (Bundler's "BUNDLE_MIRROR__HTTPS://…"), so there the
	// separator is ": ".
	cut := strings.TrimSpace(sep)
	if cut == ":" {
		cut = ": "
	}
	done := map[string]bool{}
	var out []string
	for _, line := range splitLines(old) {
		key, _, ok := strings.Cut(line, cut)
		key = strings.TrimSpace(key)
		if ok && !strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.HasPrefix(strings.TrimSpace(line), ";") {
			if v, found := lookup(sets, key); found {
				if !done[key] {
					out = append(out, key+sep+v)
					done[key] = true
				}
				continue
			}
		}
		out = append(out, line)
	}
	for _, s := range sets {
		if !done[s.key] {
			out = append(out, s.key+sep+s.value)
		}
	}
	return joinLines(out)
}

func lookup(sets []kv, key string) (string, bool) {
	for _, s := range sets {
		if s.key == key {
			return s.value, true
		}
	}
	return "", false
}

// splitLines splits a file into lines without their ends; an empty file
// has none.
func splitLines(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func joinLines(lines []string) []byte {
	if len(lines) == 0 {
		return []byte{}
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// setINI sets keys of one section of an INI file (pip.conf, .pypirc): a
// key in the section is replaced (with its indented continuation lines), a
// missing one added after the section's last setting, a missing section
// appended. Other sections, keys and comments are kept.
func setINI(old []byte, section string, sets []kv) []byte {
	var out []string
	in, seen, skipping := false, false, false
	done := map[string]bool{}
	addMissing := func() {
		at := len(out)
		for at > 0 && strings.TrimSpace(out[at-1]) == "" {
			at--
		}
		var add []string
		for _, s := range sets {
			if !done[s.key] {
				add = append(add, s.key+" = "+s.value)
				done[s.key] = true
			}
		}
		out = append(out[:at], append(add, out[at:]...)...)
	}
	for _, line := range splitLines(old) {
		t := strings.TrimSpace(line)
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		if skipping && indented && t != "" {
			continue // continuation of a value replaced
		}
		skipping = false
		switch {
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			if in {
				addMissing()
			}
			in = strings.TrimSpace(t[1:len(t)-1]) == section
			seen = seen || in
		case in && !indented && t != "" && t[0] != '#' && t[0] != ';':
			k, _, ok := strings.Cut(t, "=")
			k = strings.TrimSpace(k)
			if v, found := lookup(sets, k); ok && found {
				if !done[k] {
					out = append(out, k+" = "+v)
					done[k] = true
				}
				skipping = true
				continue
			}
		}
		out = append(out, line)
	}
	if in {
		addMissing()
	}
	if !seen {
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" {
			out = append(out, "")
		}
		out = append(out, "["+section+"]")
		for _, s := range sets {
			out = append(out, s.key+" = "+s.value)
		}
	}
	return joinLines(out)
}
