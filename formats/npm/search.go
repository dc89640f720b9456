package npm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Search bounds.
const (
	defaultSearchSize = 20
	maxSearchSize     = 250
	maxSearchText     = 256
)

type searchPackage struct {
	Name        string            `json:"name"`
	Scope       string            `json:"scope"`
	Version     string            `json:"version"`
	Description string            `json:"description,omitempty"`
	Keywords    []string          `json:"keywords,omitempty"`
	Date        string            `json:"date,omitempty"`
	Links       map[string]string `json:"links"`
	Publisher   *searchUser       `json:"publisher,omitempty"`
	Maintainers []searchUser      `json:"maintainers"`
}

type searchUser struct {
	Username string `json:"username"`
	Email    string `json:"email,omitempty"`
}

type searchObject struct {
	Package     searchPackage  `json:"package"`
	Score       map[string]any `json:"score"`
	SearchScore float64        `json:"searchScore"`
}

// search serves GET /-/v1/search over the packages stored in the
// repository and its upstream repositories (external connections are not
// searched, as CodeArtifact does not search them either). Every word of
// text must appear in the name.
func (h *handler) search(c echo.Context) error {
	req := c.Request()
	q := req.URL.Query()
	text := strings.ToLower(q.Get("text"))
	if len(text) > maxSearchText {
		return invalid("search text is longer than %d characters", maxSearchText)
	}
	size, from := defaultSearchSize, 0
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return invalid("size must be a positive number")
		}
		size = min(n, maxSearchSize)
	}
	if s := q.Get("from"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return invalid("from must not be negative")
		}
		from = n
	}
	ref := formats.RepoFrom(c)
	pkgs, err := h.res.Packages(req.Context(), ref, "npm")
	if err != nil {
		return err
	}
	words := strings.Fields(text)
	var matches []formats.Package
	for _, p := range pkgs {
		name := strings.ToLower(displayName(p))
		ok := true
		for _, w := range words {
			if !strings.Contains(name, strings.TrimPrefix(w, "@")) {
				ok = false
				break
			}
		}
		if ok {
			matches = append(matches, p)
		}
	}
	sort.Slice(matches, func(i, j int) bool { return displayName(matches[i]) < displayName(matches[j]) })
	objects := []searchObject{}
	total := 0
	for _, p := range matches {
		v, err := h.res.View(req.Context(), ref, p)
		if errors.Is(err, formats.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		pr := prepare(v)
		if len(pr.listed) == 0 {
			continue
		}
		total++
		if total <= from || len(objects) >= size {
			continue
		}
		objects = append(objects, searchEntry(pr, ref.Base))
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, map[string]any{
		"objects": objects,
		"total":   total,
		"time":    time.Now().UTC().Format(time.RFC1123),
	})
}

func searchEntry(pr *prepared, base string) searchObject {
	p := pr.v.Package
	latest := pr.tags["latest"]
	sp := searchPackage{
		Name:        displayName(p),
		Scope:       "unscoped",
		Version:     latest,
		Links:       map[string]string{"npm": base + "/" + displayName(p)},
		Maintainers: []searchUser{},
	}
	if p.Namespace != "" {
		sp.Scope = p.Namespace
	}
	var fields struct {
		Description string          `json:"description"`
		Keywords    json.RawMessage `json:"keywords"`
		Homepage    string          `json:"homepage"`
		Maintainers []struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"maintainers"`
	}
	if vv := pr.v.Versions[latest]; vv != nil {
		_ = json.Unmarshal(vv.Meta, &fields)
		if !vv.Published.IsZero() {
			sp.Date = vv.Published.UTC().Format(timeFormat)
		}
	}
	if fields.Description == "" && pr.v.Extra != nil {
		_ = json.Unmarshal(pr.v.Extra, &fields)
	}
	sp.Description = fields.Description
	var kw []string
	if json.Unmarshal(fields.Keywords, &kw) == nil {
		sp.Keywords = kw
	}
	if fields.Homepage != "" {
		sp.Links["homepage"] = fields.Homepage
	}
	for _, m := range fields.Maintainers {
		sp.Maintainers = append(sp.Maintainers, searchUser{Username: m.Name, Email: m.Email})
	}
	if len(sp.Maintainers) > 0 {
		sp.Publisher = &sp.Maintainers[0]
	}
	one := 1.0
	return searchObject{
		Package:     sp,
		Score:       map[string]any{"final": one, "detail": map[string]float64{"quality": one, "popularity": one, "maintenance": one}},
		SearchScore: one,
	}
}

// audit passes npm's audit requests (advisories/bulk, audits/quick,
// audits) to the first npm external connection the walk reaches: method,
// body, Content-Type and Content-Encoding as sent, the answer as received.
// Without a connection the bulk endpoint answers {} (no advisories known),
// which npm install takes quietly.
func (h *handler) audit(c echo.Context, rt route) error {
	req := c.Request()
	ctx := req.Context()
	g, err := h.res.Upstream(ctx, formats.RepoFrom(c), "npm")
	if errors.Is(err, formats.ErrNotFound) {
		if strings.HasSuffix(rt.spec, "/bulk") {
			return c.JSON(http.StatusOK, map[string]any{})
		}
		return fmt.Errorf("%w: npm: this repository reaches no npm external connection to audit against", formats.ErrNotFound)
	}
	if err != nil {
		return err
	}
	limit := h.f.opts.MaxAuditBody
	body, err := readSmall(req, limit)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	for _, k := range []string{"Content-Type", "Content-Encoding", "Accept", "Accept-Encoding"} {
		if v := req.Header.Get(k); v != "" {
			hdr.Set(k, v)
		}
	}
	if hdr.Get("Accept-Encoding") == "" {
		hdr.Set("Accept-Encoding", "identity")
	}
	resp, err := g.Do(ctx, http.MethodPost, rt.spec, hdr, bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(out)) > limit {
		return fmt.Errorf("%w: npm: the upstream audit answer is larger than %d bytes", formats.ErrTooLarge, limit)
	}
	rh := c.Response().Header()
	for _, k := range []string{"Content-Type", "Content-Encoding"} {
		if v := resp.Header.Get(k); v != "" {
			rh.Set(k, v)
		}
	}
	rh.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(resp.StatusCode)
	_, err = c.Response().Write(out)
	return err
}
