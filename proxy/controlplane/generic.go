package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// DeclaredSHA256Key is where the signature middleware leaves the body's
// SHA-256 it verified the signature over, for a body it did not read.
const DeclaredSHA256Key = "stockpile.declared-sha256"

// publishPath is PublishPackageVersion's route below /v1.
const publishPath = "/package/version/publish"

// IsPublish reports whether r is PublishPackageVersion: its body is the
// asset, streamed to the handler and checked against the SHA-256 the
// signature covers instead of being read by the signature check, and it
// counts against the server's publish cap.
func IsPublish(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/v1"+publishPath
}

// genericName reports whether s is a valid generic namespace, package
// name or version: 1 to 255 characters, none a '#', a '/', white space or a
// control character.
func genericName(s string) bool {
	return runesOK(s, func(r rune) bool {
		return r != '#' && r != '/' && !strings.ContainsRune(" \t\n\f\r", r) && !unicode.IsControl(r)
	})
}

// genericNames checks a generic package's namespace and name (genericName).
type genericNames struct{}

func (genericNames) CheckName(p formats.Package) error {
	if p.Namespace != "" && !genericName(p.Namespace) || !genericName(p.Name) {
		return fmt.Errorf("%w: a generic namespace or package name is 1 to 255 characters, no '#', '/', white space or control character", formats.ErrInvalid)
	}
	return nil
}

// genericAsset reports whether s is a valid generic asset name: 1 to 255
// letters, digits and the punctuation CodeArtifact allows.
func genericAsset(s string) bool {
	return runesOK(s, func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsNumber(r) || strings.ContainsRune("~!@^&()-_+[]{};,.`", r)
	})
}

// runesOK reports whether s has 1 to 255 characters and ok holds for each
// (a byte that is not UTF-8 is one character, utf8.RuneError). It does what
// an anchored regular expression with {1,255} would, without the megabytes
// such a compiled expression holds.
func runesOK(s string, ok func(rune) bool) bool {
	n := 0
	for _, r := range s {
		if n++; n > 255 || !ok(r) {
			return false
		}
	}
	return n > 0
}

// PublishPackageVersion: POST /v1/package/version/publish?…&version=&asset=&unfinished=
// The body is the asset; x-amz-content-sha256 is its SHA-256. Generic only.
func (h *Handler) publishPackageVersion(c echo.Context) error {
	r, p, err := h.packageParams(c, true)
	if err != nil {
		return err
	}
	if p.Format != "generic" {
		return validation("PublishPackageVersion publishes generic packages only, not %s", p.Format)
	}
	version, err := query(c, "version")
	if err != nil {
		return err
	}
	asset, err := query(c, "asset")
	if err != nil {
		return err
	}
	for _, s := range []string{p.Namespace, p.Name, version} {
		if !genericName(s) {
			return validation("%q is not a valid namespace, package or version: 1 to 255 characters, no '#', '/' or white space", s)
		}
	}
	if !genericAsset(asset) {
		return validation("asset name %q has characters CodeArtifact does not allow", asset)
	}
	declared, _ := c.Get(DeclaredSHA256Key).(string)
	if declared == "" {
		declared = strings.ToLower(c.Request().Header.Get("X-Amz-Content-Sha256"))
	}
	if len(declared) != 64 {
		return validation("x-amz-content-sha256 must carry the asset's SHA-256 in lower-case hex")
	}
	status := formats.StatusPublished
	if c.QueryParam("unfinished") == "true" {
		status = formats.StatusUnfinished
	}
	if h.MaxPublishSize > 0 && c.Request().ContentLength > h.MaxPublishSize {
		return &Error{Type: "ValidationException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("too large: the asset is larger than max_publish_size (%d bytes)", h.MaxPublishSize)}
	}
	ref := formats.RepoRef{Domain: r.Domain, Repository: r.Name}
	body := c.Request().Body
	var sum hash.Hash = sha256.New()
	pub := formats.Publication{
		Version: formats.Version{Version: version, Status: status,
			Assets: []formats.AssetRef{{Name: asset, Digests: formats.Digests{SHA256: declared}}}},
		Content: func(string) (io.Reader, error) { return io.TeeReader(body, sum), nil },
		Merge:   true,
	}
	ctx := c.Request().Context()
	if err := h.Resolver.Publish(ctx, ref, p, pub); err != nil {
		if errors.Is(err, formats.ErrInvalid) && hex.EncodeToString(sum.Sum(nil)) != declared {
			return validation("the asset does not match x-amz-content-sha256")
		}
		return err
	}
	v, err := h.Resolver.VersionRecord(ctx, r.Domain, r.ID, p, version)
	if err != nil {
		return err
	}
	if v == nil {
		return notFound("package-version", version, "version %s vanished while it was published", version)
	}
	a := v.Asset(asset)
	if a == nil {
		return notFound("asset", asset, "asset %s vanished while it was published", asset)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"format": p.Format, "namespace": p.Namespace, "package": p.Name, "version": version,
		"versionRevision": v.Revision, "status": string(v.Status),
		"asset": map[string]any{"name": a.Name, "size": a.Size, "hashes": map[string]string{
			"MD5": a.Digests.MD5, "SHA-1": a.Digests.SHA1, "SHA-256": a.Digests.SHA256, "SHA-512": a.Digests.SHA512}},
	})
}
