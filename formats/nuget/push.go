package nuget

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// publish serves the PackagePublish resource: PUT pushes a package,
// DELETE {id}/{version} unlists a version (as nuget.org does: nothing is
// deleted, the version stays downloadable), POST {id}/{version} relists it.
func (h *handler) publish(c echo.Context, rest []string) error {
	m := c.Request().Method
	switch len(rest) {
	case 0:
		if m == http.MethodPut {
			return h.push(c)
		}
		return formats.MethodNotAllowed(c, "nuget", "PUT")
	case 2:
		switch m {
		case http.MethodDelete:
			return h.setListed(c, rest[0], rest[1], false)
		case http.MethodPost:
			return h.setListed(c, rest[0], rest[1], true)
		}
		return formats.MethodNotAllowed(c, "nuget", "DELETE", "POST")
	}
	return errNoRoute
}

// push stores a pushed .nupkg: the first part of a multipart/form-data
// body (or the body itself when it is not multipart), spooled to a
// temporary file within MaxPackageSize, validated (readNupkg), and
// published under the id and version its nuspec gives. The engine applies
// origin controls and answers 409 for a version that exists.
func (h *handler) push(c echo.Context) error {
	req := c.Request()
	in := formats.IntakeFrom(c)
	limit := in.MaxPublishSize
	if h.f.opts.MaxPackageSize > 0 {
		limit = min(limit, h.f.opts.MaxPackageSize)
	}
	if req.ContentLength > limit+in.MaxMetadataSize {
		return fmt.Errorf("%w: nuget: the package is larger than %d bytes", formats.ErrTooLarge, limit)
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, limit+in.MaxMetadataSize)
	body, err := packageBody(req)
	if err != nil {
		return err
	}
	tmp, err := in.NewSpool(limit, "nuget: the package")
	if err != nil {
		return err
	}
	defer tmp.Close()
	hash := sha512.New()
	n, err := io.Copy(io.MultiWriter(tmp, hash), body)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, formats.ErrTooLarge), errors.As(err, &mbe):
			return fmt.Errorf("%w: nuget: the package is larger than %d bytes", formats.ErrTooLarge, limit)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("nuget: spooling the package: %w", err)
		}
		return invalid("reading the package: %v", err)
	}
	if n == 0 {
		return invalid("the request carries no package")
	}
	pk, err := readNupkg(tmp, n, h.f.opts)
	if err != nil {
		return err
	}
	sum := hash.Sum(nil)
	p := pkg(pk.id)
	key := pk.version.Key()
	e := pk.entry(base64.StdEncoding.EncodeToString(sum), n)
	pub := formats.Publication{
		Version: formats.Version{
			Version: key, Status: formats.StatusPublished, Meta: marshalEntry(e),
			Assets: []formats.AssetRef{{Name: nupkgName(p.Name, key), Digests: formats.Digests{SHA512: hex.EncodeToString(sum)}, Size: n}},
		},
		Content: func(string) (io.Reader, error) { return tmp.Reader(), nil },
	}
	if err := h.res.Publish(req.Context(), formats.RepoFrom(c), p, pub); err != nil {
		return err
	}
	return c.NoContent(http.StatusCreated)
}

// packageBody returns the package bytes of a push request.
func packageBody(req *http.Request) (io.Reader, error) {
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return req.Body, nil
	}
	if params["boundary"] == "" {
		return nil, invalid("the multipart body has no boundary")
	}
	mr := multipart.NewReader(req.Body, params["boundary"])
	part, err := mr.NextPart()
	if err != nil {
		return nil, invalid("the multipart body has no part: %v", err)
	}
	return part, nil
}

// setListed unlists or relists a version this repository holds.
func (h *handler) setListed(c echo.Context, id, ver string, listed bool) error {
	p, err := packageOf(id)
	if err != nil {
		return err
	}
	key, err := keyOf(ver)
	if err != nil {
		return err
	}
	ref := formats.RepoFrom(c)
	err = h.res.UpdateVersion(c.Request().Context(), ref, p, key, func(v *formats.Version) error {
		switch v.Status {
		case formats.StatusPublished, formats.StatusUnlisted:
		default:
			return fmt.Errorf("%w: nuget: version %s of %s is %s", formats.ErrNotFound, key, id, v.Status)
		}
		v.Status = formats.StatusUnlisted
		if listed {
			v.Status = formats.StatusPublished
		}
		return nil
	})
	if errors.Is(err, formats.ErrNotFound) {
		// Statuses belong to repositories: say where the version is held.
		if v, verr := h.res.View(c.Request().Context(), ref, p); verr == nil {
			if vv := v.Versions[key]; vv != nil && vv.Repository != ref.Repository {
				return fmt.Errorf("%w: nuget: version %s of %s is not stored in repository %s but reached through repository %s: unlist or relist it there", formats.ErrNotFound, key, id, ref.Repository, vv.Repository)
			}
		}
	}
	if err != nil {
		return err
	}
	if listed {
		return c.NoContent(http.StatusOK)
	}
	return c.NoContent(http.StatusNoContent)
}
