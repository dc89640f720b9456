package webui

import (
	"bytes"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// maxReadme bounds the README bytes rendered (the rest is cut).
const maxReadme = 512 << 10

// markdown renders CommonMark with GitHub's extensions (tables, task lists,
// strikethrough, autolinks), passing raw HTML through to the sanitiser
// rather than dropping it, since many READMEs carry some.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))

// sanitizer keeps the markup of user-generated content (bluemonday's UGC
// policy: no script, no event handlers, no style, no javascript: or other
// unsafe URL schemes) and marks links nofollow, opening elsewhere without an
// opener.
func sanitizer() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.RequireNoReferrerOnFullyQualifiedLinks(true)
	return p
}

// renderReadme turns a README (Markdown, which includes plain text) into
// sanitised HTML. The result is safe to place in a page as is: the sanitiser
// runs last, on the renderer's output.
func (h *Handler) renderReadme(src string) (template.HTML, error) {
	if len(src) > maxReadme {
		src = src[:maxReadme]
	}
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return "", err
	}
	return template.HTML(h.policy.SanitizeBytes(buf.Bytes())), nil //nolint:gosec // sanitised above
}
