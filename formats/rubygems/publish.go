package rubygems

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// maxFormBody bounds the form of a yank.
const maxFormBody = 64 << 10

// readBody reads a request body of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: rubygems: the request body is larger than %d bytes", formats.ErrTooLarge, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, invalid("reading the request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: rubygems: the request body is larger than %d bytes", formats.ErrTooLarge, limit)
	}
	return b, nil
}

// spooledGem is the .gem of a push, spooled, and its SHA-256.
type spooledGem struct {
	spool  *formats.Spool
	sha256 string
}

// readPush spools the .gem of a push: the raw body, or the "gem" part of a
// multipart body (`gem push --attestation`), at most max_publish_size
// bytes of it in a body of at most that and max_metadata_size. The caller
// closes the spool.
func (h *handler) readPush(c echo.Context) (*spooledGem, error) {
	in := formats.IntakeFrom(c)
	r := c.Request()
	limit := in.Body()
	if h.f.opts.MaxGemSize > 0 {
		limit = min(limit, h.f.opts.MaxGemSize)
	}
	if r.ContentLength > limit {
		return nil, formats.TooLarge("rubygems", "the request body", limit)
	}
	body := formats.LimitBody(r.Body, limit, "rubygems", "the request body")
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, formats.ErrTooLarge) {
				return nil, err
			}
			if err != nil {
				return nil, invalid("the multipart body has no gem part")
			}
			if part.FormName() == "gem" {
				body = part
				break
			}
		}
	}
	sp, err := in.NewSpool(min(in.MaxPublishSize, limit), "rubygems: the gem")
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	if _, err := io.Copy(io.MultiWriter(sp, sum), body); err != nil {
		sp.Close()
		if errors.Is(err, formats.ErrTooLarge) {
			return nil, err
		}
		return nil, invalid("reading the gem: %v", err)
	}
	return &spooledGem{spool: sp, sha256: hex.EncodeToString(sum.Sum(nil))}, nil
}

// POST /api/v1/gems: gem push (https://guides.rubygems.org/rubygems-org-api/).
// The body is the .gem; its name, version and platform come from its
// metadata. The engine applies origin controls and answers 409 when the
// version exists here or upstream.
func (h *handler) push(c echo.Context) error {
	req := c.Request()
	body, err := h.readPush(c)
	if err != nil {
		return err
	}
	defer body.spool.Close()
	spec, err := readGem(body.spool.Reader(), min(h.f.opts.MaxMetadataSize, formats.IntakeFrom(c).MaxMetadataSize))
	if err != nil {
		return err
	}
	if err := checkPublishName(spec.Name); err != nil {
		return err
	}
	ctx := req.Context()
	ref := formats.RepoFrom(c)
	p := formats.Package{Format: "ruby", Name: spec.Name}
	// rubygems.org refuses names that differ only by case; lookups never
	// fold case, so two such gems would confuse people, not clients.
	pkgs, err := h.res.Packages(ctx, ref, "ruby")
	if err != nil {
		return err
	}
	for _, q := range pkgs {
		if q.Name != p.Name && strings.EqualFold(q.Name, p.Name) {
			return fmt.Errorf("%w: rubygems: gem %s differs from the existing gem %s only by case", formats.ErrConflict, p.Name, q.Name)
		}
	}
	key := spec.key()
	quick, err := spec.quickSpec()
	if err != nil {
		return invalid("gem %s: %v", spec.Name, err)
	}
	quickSum := sha256.Sum256(quick)
	meta, _ := json.Marshal(versionMeta{Line: spec.infoLine(body.sha256)})
	gem, spc := gemFile(spec.Name, key), specFile(spec.Name, key)
	err = h.res.Publish(ctx, ref, p, formats.Publication{
		Version: formats.Version{
			Version: key,
			Meta:    meta,
			Assets: []formats.AssetRef{
				{Name: gem, Digests: formats.Digests{SHA256: body.sha256}, Size: body.spool.Size()},
				{Name: spc, Digests: formats.Digests{SHA256: hex.EncodeToString(quickSum[:])}, Size: int64(len(quick))},
			},
		},
		Content: func(name string) (io.Reader, error) {
			switch name {
			case gem:
				return body.spool.Reader(), nil
			case spc:
				return bytes.NewReader(quick), nil
			}
			return nil, fmt.Errorf("rubygems: no content for %s", name)
		},
	})
	if err != nil {
		return err
	}
	return c.String(http.StatusOK, "Successfully registered gem: "+spec.Name+" ("+key+")")
}

// DELETE /api/v1/gems/yank: gem yank (the same API), with form fields gem_name,
// version and platform. The version becomes Unlisted: it leaves the
// compact index but its files stay downloadable, for locked builds.
func (h *handler) yank(c echo.Context) error {
	req := c.Request()
	// net/http parses no form in a DELETE body.
	body, err := readBody(req, maxFormBody)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return invalid("the yank form is not URL-encoded: %v", err)
	}
	for k, v := range req.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	name, number, plat := form.Get("gem_name"), form.Get("version"), form.Get("platform")
	if !validName(name) {
		return invalid("gem_name %q is not a gem name", name)
	}
	if !validVersion(number) {
		return invalid("version %q is not a gem version", number)
	}
	if plat != "" && plat != "ruby" && !validPlatform(plat) {
		return invalid("platform %q is not a platform", plat)
	}
	key := versionKey(number, plat)
	p := formats.Package{Format: "ruby", Name: name}
	err = h.res.UpdateVersion(req.Context(), formats.RepoFrom(c), p, key, func(v *formats.Version) error {
		if !v.Status.Downloadable() {
			return fmt.Errorf("%w: rubygems: %s (%s) is %s", formats.ErrConflict, name, key, v.Status)
		}
		v.Status = formats.StatusUnlisted
		return nil
	})
	if err != nil {
		return err
	}
	return c.String(http.StatusOK, "Successfully deleted gem: "+name+" ("+key+")")
}
