package login

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// elem is an element of an XML file with where it lies in the file, so
// that the file can be edited by splicing: everything not touched stays
// byte for byte (comments, formatting, other settings).
type elem struct {
	name        string
	attrs       []xml.Attr
	start, end  int // the whole element
	lead        int // start of the indentation before it on its line
	inner       int // just after the start tag
	endTag      int // where the end tag begins (end when self-closing)
	selfClosing bool
	children    []*elem
	text        strings.Builder
}

func (e *elem) attr(name string) string {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *elem) child(name string) *elem {
	for _, c := range e.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parseXML reads the root element of b.
func parseXML(b []byte) (*elem, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []*elem
	var root *elem
	for {
		before := int(d.InputOffset())
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &elem{name: t.Name.Local, attrs: t.Attr, start: before, inner: int(d.InputOffset()), lead: before}
			for e.lead > 0 && (b[e.lead-1] == ' ' || b[e.lead-1] == '\t') {
				e.lead--
			}
			if e.lead > 0 && b[e.lead-1] == '\n' {
				e.lead--
				if e.lead > 0 && b[e.lead-1] == '\r' {
					e.lead--
				}
			} else {
				e.lead = before // not alone on its line
			}
			e.selfClosing = bytes.HasSuffix(bytes.TrimRight(b[before:e.inner], " \t\r\n"), []byte("/>"))
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, e)
			} else if root == nil {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			e := stack[len(stack)-1]
			e.end, e.endTag = int(d.InputOffset()), before
			if e.selfClosing {
				e.endTag = e.end
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// splice is one replacement of b[from:to].
type splice struct {
	from, to int
	with     string
}

// applySplices applies ss to b; insertions at one place keep their order.
func applySplices(b []byte, ss []splice) []byte {
	idx := make([]int, len(ss))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool {
		a, c := ss[idx[i]], ss[idx[j]]
		if a.from != c.from {
			return a.from > c.from
		}
		return idx[i] > idx[j]
	})
	sorted := make([]splice, len(ss))
	for i, k := range idx {
		sorted[i] = ss[k]
	}
	ss = sorted
	out := append([]byte{}, b...)
	for _, s := range ss {
		out = append(out[:s.from], append([]byte(s.with), out[s.to:]...)...)
	}
	return out
}

// upsert puts item (XML text) into the container child of parent: the
// container's children that match are removed, item goes first in it, and
// a missing container is added at the end of parent.
func upsert(parent *elem, container, item string, match func(*elem) bool) []splice {
	return upsertAt(parent, container, item, match, func(*elem) bool { return true })
}

// upsertAt is upsert putting item before the first child (not replaced)
// that before accepts, or after the last one.
func upsertAt(parent *elem, container, item string, match, before func(*elem) bool) []splice {
	c := parent.child(container)
	if c == nil {
		return []splice{{from: parent.endTag, to: parent.endTag, with: "  <" + container + ">\n    " + item + "\n  </" + container + ">\n"}}
	}
	if c.selfClosing {
		return []splice{{from: c.start, to: c.end, with: "<" + container + ">\n    " + item + "\n  </" + container + ">"}}
	}
	var ss []splice
	at := -1
	for _, old := range c.children {
		switch {
		case match(old):
			ss = append(ss, splice{from: old.lead, to: old.end})
		case at < 0 && before(old):
			at = old.lead
		}
	}
	if at < 0 {
		at = c.inner
		if n := len(c.children); n > 0 {
			at = c.children[n-1].end
		}
	}
	return append(ss, splice{from: at, to: at, with: "\n    " + item})
}

// xmlEscape escapes s for text and attribute values.
func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
