package pypi

import (
	"strconv"
	"strings"
)

// repr is a representation of a simple-API page (PEP 691).
type repr int

const (
	reprNone   repr = iota
	reprJSON        // application/vnd.pypi.simple.v1+json
	reprHTMLv1      // application/vnd.pypi.simple.v1+html
	reprHTML        // text/html
)

// Media types of the simple API.
const (
	mediaJSON   = "application/vnd.pypi.simple.v1+json"
	mediaHTMLv1 = "application/vnd.pypi.simple.v1+html"
	mediaHTML   = "text/html"
)

func (r repr) contentType() string {
	switch r {
	case reprJSON:
		return mediaJSON
	case reprHTMLv1:
		return mediaHTMLv1
	}
	return mediaHTML + "; charset=utf-8"
}

// name is the representation's label in cache variants and ETags.
func (r repr) name() string {
	switch r {
	case reprJSON:
		return "json"
	case reprHTMLv1:
		return "v1html"
	}
	return "html"
}

// Specificity of the media range that matched a representation.
const (
	matchNone = iota
	matchAny  // */*
	matchType // type/*
	matchFull // the media type itself
)

// negotiate picks the representation for an Accept header (PEP 691). The
// highest quality wins; between equals, the more specific media range; and
// between ranges named explicitly, JSON. A missing header or */* alone gives
// text/html, which every client reads. A header that names our types only to
// refuse them falls back to text/html too; one that admits none of them and
// names none gives reprNone (406).
func negotiate(accept string) repr {
	if strings.TrimSpace(accept) == "" {
		return reprHTML
	}
	type score struct {
		q    float64
		spec int
	}
	scores := map[repr]*score{reprJSON: {}, reprHTMLv1: {}, reprHTML: {}}
	matched := false
	for _, part := range strings.Split(accept, ",") {
		mt, q, ok := mediaRange(part)
		if !ok {
			continue
		}
		for r, s := range scores {
			spec := matches(mt, r)
			if spec == matchNone {
				continue
			}
			matched = true
			// The most specific range decides a type's quality.
			if spec > s.spec {
				s.q, s.spec = q, spec
			}
		}
	}
	best := reprNone
	for _, r := range []repr{reprHTML, reprHTMLv1, reprJSON} {
		s := scores[r]
		if s.q <= 0 {
			continue
		}
		if best == reprNone {
			best = r
			continue
		}
		b := scores[best]
		switch {
		case s.q > b.q:
			best = r
		case s.q == b.q && s.spec > b.spec:
			best = r
		case s.q == b.q && s.spec == b.spec && s.spec > matchAny:
			// Named explicitly (or by type/*): the later, richer one wins.
			best = r
		}
	}
	if best == reprNone && matched {
		return reprHTML
	}
	return best
}

// mediaRange parses one element of an Accept header.
func mediaRange(s string) (string, float64, bool) {
	params := strings.Split(s, ";")
	mt := strings.ToLower(strings.TrimSpace(params[0]))
	if mt == "" || !strings.Contains(mt, "/") {
		return "", 0, false
	}
	q := 1.0
	for _, p := range params[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.ToLower(strings.TrimSpace(k)) != "q" {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			f = 0
		}
		q = f
	}
	return mt, q, true
}

// matches tells how specifically media range mt names representation r.
func matches(mt string, r repr) int {
	switch mt {
	case "*/*":
		return matchAny
	}
	var full []string
	var typ string
	switch r {
	case reprJSON:
		full, typ = []string{mediaJSON, "application/vnd.pypi.simple.latest+json"}, "application/*"
	case reprHTMLv1:
		full, typ = []string{mediaHTMLv1, "application/vnd.pypi.simple.latest+html"}, "application/*"
	case reprHTML:
		full, typ = []string{mediaHTML}, "text/*"
	}
	for _, f := range full {
		if mt == f {
			return matchFull
		}
	}
	if mt == typ {
		return matchType
	}
	return matchNone
}
