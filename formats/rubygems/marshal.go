package rubygems

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// A writer of Ruby's Marshal format 4.8, for the values a gemspec and the
// legacy spec indexes hold: nil, true/false, small integers, strings
// (UTF-8), symbols, arrays, hashes, plain objects (Gem::Dependency,
// Gem::Platform), user-marshalled objects (Gem::Version,
// Gem::Requirement), user-dumped ones (Time, Gem::Specification).
// Symbols repeated in one stream are written as links, as Ruby does;
// objects are counted as Ruby counts them, so that a value written twice
// (rlabel, then rref) is a link to the same object, as in Ruby's dump of a
// ruby-platform gemspec whose two platform fields are one String.

// rsym is a Ruby Symbol.
type rsym string

// rhash is a Ruby Hash, in insertion order.
type rhash struct {
	keys, vals []any
}

func (h *rhash) set(k, v any) {
	h.keys = append(h.keys, k)
	h.vals = append(h.vals, v)
}

// robject is an object dumped with its instance variables ('o').
type robject struct {
	class string
	ivars []string // names with '@'
	vals  []any
}

// rusermarshal is an object whose class defines marshal_dump ('U').
type rusermarshal struct {
	class string
	data  any
}

// ruserdump is an object whose class defines _dump ('u').
type ruserdump struct {
	class string
	data  []byte
	// ivars on the dumped string (Time's zone), written with an 'I' prefix.
	ivars []string
	vals  []any
}

// rlabel writes v and names the object for later rrefs.
type rlabel struct {
	name string
	v    any
}

// rref is a link to the object an rlabel of that name wrote.
type rref string

// rstring is a string with an explicit encoding; plain Go strings are UTF-8.
type rstring struct {
	s        string
	encoding int // encUTF8, encASCII, encBinary
}

const (
	encUTF8 = iota
	encASCII
	encBinary
)

// gemVersion builds a Gem::Version.
func gemVersion(v string) rusermarshal {
	return rusermarshal{class: "Gem::Version", data: []any{v}}
}

// gemRequirement builds a Gem::Requirement of (operator, version) pairs.
func gemRequirement(reqs []requirement) rusermarshal {
	list := make([]any, 0, len(reqs))
	for _, r := range reqs {
		list = append(list, []any{r.op, gemVersion(r.version)})
	}
	return rusermarshal{class: "Gem::Requirement", data: []any{list}}
}

// rubyTime is Time#_dump of a UTC time with whole seconds, with the zone
// instance variable Ruby writes.
func rubyTime(t time.Time) ruserdump {
	t = t.UTC()
	p := uint32(1)<<31 | uint32(1)<<30 | uint32(t.Year()-1900)<<14 | uint32(t.Month()-1)<<10 | uint32(t.Day())<<5 | uint32(t.Hour())
	s := uint32(t.Minute())<<26 | uint32(t.Second())<<20 | uint32(t.Nanosecond()/1000)
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], p)
	binary.LittleEndian.PutUint32(b[4:], s)
	return ruserdump{class: "Time", data: b[:], ivars: []string{"zone"}, vals: []any{rstring{s: "UTC", encoding: encASCII}}}
}

// marshaler writes one Marshal stream.
type marshaler struct {
	buf     bytes.Buffer
	syms    map[string]int
	objects int            // objects written so far: the next one's index
	labels  map[string]int // rlabel name → object index
}

// marshal returns the Marshal 4.8 encoding of v.
func marshal(v any) ([]byte, error) {
	m := &marshaler{syms: map[string]int{}}
	m.buf.Write([]byte{4, 8})
	if err := m.value(v); err != nil {
		return nil, err
	}
	return m.buf.Bytes(), nil
}

// long writes Ruby's w_long.
func (m *marshaler) long(x int64) {
	switch {
	case x == 0:
		m.buf.WriteByte(0)
	case 0 < x && x < 123:
		m.buf.WriteByte(byte(x + 5))
	case -124 < x && x < 0:
		m.buf.WriteByte(byte((x - 5) & 0xff))
	default:
		var b [9]byte
		i := 1
		for ; i < 9; i++ {
			b[i] = byte(x & 0xff)
			x >>= 8
			if x == 0 {
				b[0] = byte(i)
				break
			}
			if x == -1 {
				b[0] = byte(-i)
				break
			}
		}
		m.buf.Write(b[:i+1])
	}
}

func (m *marshaler) bytes(b []byte) {
	m.long(int64(len(b)))
	m.buf.Write(b)
}

func (m *marshaler) symbol(s string) {
	if i, ok := m.syms[s]; ok {
		m.buf.WriteByte(';')
		m.long(int64(i))
		return
	}
	m.syms[s] = len(m.syms)
	m.buf.WriteByte(':')
	m.bytes([]byte(s))
}

func (m *marshaler) str(s rstring) {
	m.objects++
	if s.encoding == encBinary {
		m.buf.WriteByte('"')
		m.bytes([]byte(s.s))
		return
	}
	m.buf.WriteByte('I')
	m.buf.WriteByte('"')
	m.bytes([]byte(s.s))
	m.long(1)
	m.symbol("E")
	if s.encoding == encUTF8 {
		m.buf.WriteByte('T')
	} else {
		m.buf.WriteByte('F')
	}
}

// value writes one Ruby value. It is long because it is one case per kind
// of value Marshal 4.8 has, each a few lines, as the format lists them.
func (m *marshaler) value(v any) error {
	switch x := v.(type) {
	case nil:
		m.buf.WriteByte('0')
	case bool:
		if x {
			m.buf.WriteByte('T')
		} else {
			m.buf.WriteByte('F')
		}
	case int:
		if x < -(1<<30) || x >= 1<<30 {
			return fmt.Errorf("marshal: integer %d out of fixnum range", x)
		}
		m.buf.WriteByte('i')
		m.long(int64(x))
	case string:
		m.str(rstring{s: x})
	case rstring:
		m.str(x)
	case rsym:
		m.symbol(string(x))
	case rlabel:
		if m.labels == nil {
			m.labels = map[string]int{}
		}
		m.labels[x.name] = m.objects
		return m.value(x.v)
	case rref:
		i, ok := m.labels[string(x)]
		if !ok {
			return fmt.Errorf("marshal: no object labelled %q", string(x))
		}
		m.buf.WriteByte('@')
		m.long(int64(i))
	case []string:
		m.objects++
		m.buf.WriteByte('[')
		m.long(int64(len(x)))
		for _, e := range x {
			m.str(rstring{s: e})
		}
	case []any:
		m.objects++
		m.buf.WriteByte('[')
		m.long(int64(len(x)))
		for _, e := range x {
			if err := m.value(e); err != nil {
				return err
			}
		}
	case *rhash:
		m.objects++
		m.buf.WriteByte('{')
		m.long(int64(len(x.keys)))
		for i := range x.keys {
			if err := m.value(x.keys[i]); err != nil {
				return err
			}
			if err := m.value(x.vals[i]); err != nil {
				return err
			}
		}
	case robject:
		m.objects++
		m.buf.WriteByte('o')
		m.symbol(x.class)
		m.long(int64(len(x.ivars)))
		for i, name := range x.ivars {
			m.symbol(name)
			if err := m.value(x.vals[i]); err != nil {
				return err
			}
		}
	case rusermarshal:
		m.objects++
		m.buf.WriteByte('U')
		m.symbol(x.class)
		return m.value(x.data)
	case ruserdump:
		return m.userDump(x)
	default:
		return fmt.Errorf("marshal: cannot encode %T", v)
	}
	return nil
}

// userDump writes an object with a custom _dump (Gem::Version), with its
// instance variables when it has some.
func (m *marshaler) userDump(x ruserdump) error {
	m.objects++
	if len(x.ivars) > 0 {
		m.buf.WriteByte('I')
	}
	m.buf.WriteByte('u')
	m.symbol(x.class)
	m.bytes(x.data)
	if len(x.ivars) > 0 {
		m.long(int64(len(x.ivars)))
		for i, name := range x.ivars {
			m.symbol(name)
			if err := m.value(x.vals[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
