package controlplane

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/model"
)

type upstreamJSON struct {
	RepositoryName string `json:"repositoryName"`
}

type externalConnectionJSON struct {
	ExternalConnectionName string `json:"externalConnectionName"`
	PackageFormat          string `json:"packageFormat"`
	Status                 string `json:"status"`
}

// repositoryDescription is CodeArtifact's RepositoryDescription: the
// summary's members and the repository's upstreams and connection.
type repositoryDescription struct {
	repositorySummary
	Upstreams           []upstreamJSON           `json:"upstreams"`
	ExternalConnections []externalConnectionJSON `json:"externalConnections"`
}

type repositorySummary struct {
	Name                 string `json:"name"`
	AdministratorAccount string `json:"administratorAccount"`
	DomainName           string `json:"domainName"`
	DomainOwner          string `json:"domainOwner"`
	ARN                  string `json:"arn"`
	Description          string `json:"description,omitempty"`
	CreatedTime          epoch  `json:"createdTime"`
}

func (h *Handler) describe(r model.Repository) repositoryDescription {
	d := repositoryDescription{repositorySummary: h.summarize(r),
		Upstreams: []upstreamJSON{}, ExternalConnections: []externalConnectionJSON{}}
	for _, n := range h.Registry.UpstreamNames(r) {
		d.Upstreams = append(d.Upstreams, upstreamJSON{RepositoryName: n})
	}
	if r.ExternalConnection != "" {
		d.ExternalConnections = append(d.ExternalConnections, externalConnectionJSON{
			ExternalConnectionName: r.ExternalConnection, PackageFormat: connectionFormat(r.ExternalConnection), Status: "Available",
		})
	}
	return d
}

func (h *Handler) summarize(r model.Repository) repositorySummary {
	return repositorySummary{Name: r.Name, AdministratorAccount: h.account(), DomainName: r.Domain, DomainOwner: h.account(),
		ARN: h.arns().Repository(r.Domain, r.Name), Description: r.Description, CreatedTime: epoch(r.CreatedTime)}
}

func (h *Handler) repoParams(c echo.Context) (domain, repo string, err error) {
	if domain, err = query(c, "domain"); err != nil {
		return
	}
	if repo, err = query(c, "repository"); err != nil {
		return
	}
	err = h.checkOwner(c)
	return
}

func upstreamNames(in []upstreamJSON) []string {
	out := make([]string, 0, len(in))
	for _, u := range in {
		out = append(out, u.RepositoryName)
	}
	return out
}

// CreateRepository: POST /v1/repository?domain=&repository=
func (h *Handler) createRepository(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	var body struct {
		Description string         `json:"description"`
		Upstreams   []upstreamJSON `json:"upstreams"`
		Tags        []tagJSON      `json:"tags"`
	}
	tags, err := decodeTagged(c, &body, &body.Tags)
	if err != nil {
		return err
	}
	r, err := h.Registry.CreateRepository(c.Request().Context(), domain, repo, body.Description, upstreamNames(body.Upstreams), tags)
	return one(c, "repository", r, err, h.describe)
}

// DescribeRepository: GET /v1/repository?domain=&repository=
func (h *Handler) describeRepository(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	r, err := h.Registry.Repository(domain, repo)
	return one(c, "repository", r, err, h.describe)
}

// UpdateRepository: PUT /v1/repository?domain=&repository=; upstreams, when
// present, replace the whole list.
func (h *Handler) updateRepository(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	var body struct {
		Description *string         `json:"description"`
		Upstreams   *[]upstreamJSON `json:"upstreams"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	var ups *[]string
	if body.Upstreams != nil {
		names := upstreamNames(*body.Upstreams)
		ups = &names
	}
	r, err := h.Registry.UpdateRepository(c.Request().Context(), domain, repo, body.Description, ups)
	return one(c, "repository", r, err, h.describe)
}

// DeleteRepository: DELETE /v1/repository?domain=&repository=
func (h *Handler) deleteRepository(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, err := h.Registry.Repository(domain, repo)
	if err != nil {
		return err
	}
	desc := h.describe(cur)
	if _, err := h.Registry.DeleteRepository(ctx, domain, repo); err != nil {
		return err
	}
	if err := h.Resolver.DeleteRepositoryContents(ctx, domain, cur.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"repository": desc})
}

func (h *Handler) listRepos(c echo.Context, domain string) error {
	repos, err := h.Registry.Repositories(domain)
	if err != nil {
		return err
	}
	if prefix := c.QueryParam("repository-prefix"); prefix != "" {
		kept := repos[:0]
		for _, r := range repos {
			if strings.HasPrefix(r.Name, prefix) {
				kept = append(kept, r)
			}
		}
		repos = kept
	}
	if a := c.QueryParam("administrator-account"); a != "" && a != h.account() {
		repos = nil
	}
	items, next, err := page(c, repos, func(r model.Repository) string { return r.Domain + "/" + r.Name }, 0, "")
	if err != nil {
		return err
	}
	out := make([]repositorySummary, 0, len(items))
	for _, r := range items {
		out = append(out, h.summarize(r))
	}
	return listed(c, map[string]any{"repositories": out}, next)
}

// ListRepositories: POST /v1/repositories?repository-prefix=&max-results=&next-token=
func (h *Handler) listRepositories(c echo.Context) error { return h.listRepos(c, "") }

// ListRepositoriesInDomain: POST /v1/domain/repositories?domain=&…
func (h *Handler) listRepositoriesInDomain(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	return h.listRepos(c, domain)
}

// AssociateExternalConnection: POST /v1/repository/external-connection?…&external-connection=
func (h *Handler) associateExternalConnection(c echo.Context) error {
	return h.changeExternalConnection(c, h.Registry.AssociateExternalConnection)
}

// DisassociateExternalConnection: DELETE /v1/repository/external-connection?…
func (h *Handler) disassociateExternalConnection(c echo.Context) error {
	return h.changeExternalConnection(c, h.Registry.DisassociateExternalConnection)
}

// changeExternalConnection applies change to the repository and connection
// the query names and answers with the repository.
func (h *Handler) changeExternalConnection(c echo.Context, change func(ctx context.Context, domain, repo, conn string) (model.Repository, error)) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	conn, err := query(c, "external-connection")
	if err != nil {
		return err
	}
	r, err := change(c.Request().Context(), domain, repo, conn)
	return one(c, "repository", r, err, h.describe)
}
