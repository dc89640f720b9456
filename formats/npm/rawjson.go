package npm

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The helpers below edit JSON objects in place, so that everything an
// upstream or a publisher wrote is relayed byte for byte except the one
// member that is changed (dist.tarball, deprecated). They expect valid JSON
// (checked with json.Valid by the callers) and never panic on invalid input.

var errNotObject = errors.New("not a JSON object")

// member is one "key": value pair of an object.
type member struct {
	key        string
	keyStart   int // offset of the key's opening quote
	start, end int // value span
}

// object is a parsed JSON object: where it opens and closes, and its members.
type object struct {
	open, close int
	members     []member
}

// get returns the raw value of key, or nil.
func (o *object) get(b []byte, key string) []byte {
	for i := len(o.members) - 1; i >= 0; i-- { // the last duplicate wins, as in JSON.parse
		if m := o.members[i]; m.key == key {
			return b[m.start:m.end]
		}
	}
	return nil
}

func (o *object) index(key string) int {
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.members[i].key == key {
			return i
		}
	}
	return -1
}

// parseObject scans the members of the JSON object in b (surrounding
// whitespace allowed).
func parseObject(b []byte) (*object, error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotObject
	}
	o := &object{open: i}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		o.close = i
		return o, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, errNotObject
		}
		ks := i
		ke := skipString(b, i)
		key, err := decodeKey(b[ks:ke])
		if err != nil {
			return nil, err
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, errNotObject
		}
		vs := skipWS(b, i+1)
		ve := skipValue(b, vs)
		if ve <= vs {
			return nil, errNotObject
		}
		o.members = append(o.members, member{key: key, keyStart: ks, start: vs, end: ve})
		i = skipWS(b, ve)
		if i >= len(b) {
			return nil, errNotObject
		}
		if b[i] == '}' {
			o.close = i
			return o, nil
		}
		if b[i] != ',' {
			return nil, errNotObject
		}
		i = skipWS(b, i+1)
	}
}

func decodeKey(q []byte) (string, error) {
	if bytes.IndexByte(q, '\\') < 0 && len(q) >= 2 {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the offset after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && bytes.IndexByte([]byte(",}] \t\r\n"), b[j]) < 0 {
			j++
		}
		return j
	}
}

// setMember returns a copy of the object b with key set to the raw value
// val (replaced in place, or appended as the last member).
func setMember(b []byte, key string, val []byte) ([]byte, error) {
	o, err := parseObject(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+len(key)+len(val)+4)
	if i := o.index(key); i >= 0 {
		m := o.members[i]
		out = append(out, b[:m.start]...)
		out = append(out, val...)
		return append(out, b[m.end:]...), nil
	}
	at := o.open + 1
	sep := ""
	if n := len(o.members); n > 0 {
		at, sep = o.members[n-1].end, ","
	}
	qk, _ := json.Marshal(key)
	out = append(out, b[:at]...)
	out = append(out, sep...)
	out = append(out, qk...)
	out = append(out, ':')
	out = append(out, val...)
	return append(out, b[at:]...), nil
}

// removeMember returns a copy of the object b without key (b itself when
// the key is absent).
func removeMember(b []byte, key string) ([]byte, error) {
	o, err := parseObject(b)
	if err != nil {
		return nil, err
	}
	i := o.index(key)
	if i < 0 {
		return b, nil
	}
	m := o.members[i]
	var from, to int
	switch {
	case i+1 < len(o.members): // drop "key": value, up to the next key
		from, to = m.keyStart, o.members[i+1].keyStart
	case i > 0: // last member: drop from the end of the previous value
		from, to = o.members[i-1].end, m.end
	default:
		from, to = m.keyStart, m.end
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:from]...)
	return append(out, b[to:]...), nil
}

// quote returns s as a JSON string.
func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
