package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// pages lists the page templates; each is parsed with layout.html.
var pages = []string{"signin", "domains", "domain", "repository", "package", "confirm", "settings", "ops", "packages", "error"}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"size":  humanSize,
		"query": func(v url.Values) string { return v.Encode() },
		"join":  strings.Join,
		"add":   func(a, b int) int { return a + b },
		"num":   func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) },
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/list.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("webui: template %s: %w", p, err)
		}
		out[p] = t
	}
	return out, nil
}

// page is what the layout gets.
type page struct {
	Title   string
	Prefix  string
	Visitor *visitor
	Crumbs  []crumb
	Data    any
}

type crumb struct{ Name, Href string }

func (h *Handler) render(c echo.Context, status int, name, title string, data any, crumbs ...crumb) error {
	var buf bytes.Buffer
	p := page{Title: title, Prefix: Prefix, Visitor: visitorOf(c), Crumbs: crumbs, Data: data}
	if err := h.tmpl[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return fmt.Errorf("webui: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// refuse answers with an error page.
func (h *Handler) refuse(c echo.Context, status int, msg string) error {
	return h.render(c, status, "error", http.StatusText(status), msg)
}

func humanSize(n int64) string {
	switch {
	case n <= 0:
		return "—"
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
