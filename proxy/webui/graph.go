package webui

import (
	"fmt"
	"net/url"

	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// graph is a repository's upstreams and external connections laid out for
// an inline SVG: one row per node in resolution order (the repository, its
// upstreams depth first, then its own external connection), one column per
// depth, so reading the numbers top to bottom is the order a request walks.
type graph struct {
	Width, Height int
	Nodes         []gnode
	Edges         []string // SVG path data
}

type gnode struct {
	X, Y, W, H int
	TextX      int
	Order      int    // position in the walk, 0 for a repeat
	Label      string // repository or connection name
	Kind       string // "repo", "external" or "repeat"
	Href       string
}

const (
	nodeW, nodeH = 200, 34
	colW, rowH   = 240, 46
	maxNodes     = 60
)

// graph lays out r's walk. Links are followed by name, as UpstreamNames
// gives them; a repository reached a second time is drawn greyed (the walk
// visits it once) and not expanded again.
func (h *Handler) graph(r model.Repository) graph {
	var g graph
	seen := map[string]bool{}
	order := 0
	var visit func(repo model.Repository, depth int, parent *gnode)
	add := func(n gnode, depth int, parent *gnode) *gnode {
		n.X, n.Y, n.W, n.H = 4+depth*colW, 4+len(g.Nodes)*rowH, nodeW, nodeH
		n.TextX = n.X + 12
		if parent != nil {
			x1, y1 := parent.X+parent.W/2, parent.Y+parent.H
			x2, y2 := n.X, n.Y+n.H/2
			g.Edges = append(g.Edges, fmt.Sprintf("M%d %d V%d H%d", x1, y1, y2, x2))
		}
		g.Nodes = append(g.Nodes, n)
		g.Width = max(g.Width, n.X+n.W+4)
		g.Height = n.Y + n.H + 4
		return &g.Nodes[len(g.Nodes)-1]
	}
	visit = func(repo model.Repository, depth int, parent *gnode) {
		if len(g.Nodes) >= maxNodes {
			return
		}
		href := Prefix + "/d/" + url.PathEscape(repo.Domain) + "/r/" + url.PathEscape(repo.Name)
		if seen[repo.Name] {
			add(gnode{Label: repo.Name + " (visited above)", Kind: "repeat", Href: href}, depth, parent)
			return
		}
		seen[repo.Name] = true
		order++
		self := *add(gnode{Order: order, Label: repo.Name, Kind: "repo", Href: href}, depth, parent)
		for _, name := range h.o.Catalog.UpstreamNames(repo) {
			up, err := h.o.Catalog.Repository(repo.Domain, name)
			if err != nil {
				continue
			}
			visit(up, depth+1, &self)
		}
		if repo.ExternalConnection != "" && len(g.Nodes) < maxNodes {
			order++
			add(gnode{Order: order, Label: repo.ExternalConnection, Kind: "external"}, depth+1, &self)
		}
	}
	visit(r, 0, nil)
	return g
}
