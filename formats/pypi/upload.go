package pypi

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// uploadField bounds one metadata field of an upload (descriptions are the
// long ones).
const uploadField = 4 << 20

// maxDescription bounds the description kept for the JSON API.
const maxDescription = 64 << 10

// invalid returns a 400 error with a message for the uploader.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: pypi upload: "+format, append([]any{formats.ErrInvalid}, args...)...)
}

// form is a parsed upload: its fields and the file, spooled to disk.
type form struct {
	fields   map[string][]string
	in       formats.Intake
	file     *formats.Spool
	filename string
	size     int64
	sha256   string
	md5      string
}

func (f *form) get(k string) string {
	if vs := f.fields[k]; len(vs) > 0 {
		return strings.TrimSpace(vs[0])
	}
	return ""
}

func (f *form) close() {
	if f.file != nil {
		f.file.Close()
	}
}

// upload: POST /, the legacy upload API (twine, uv publish, poetry, flit).
// Each request adds one file to a version; the same file again is an
// idempotent success, another file under an existing name is 409 "File
// already exists" (what twine --skip-existing skips).
func (h *handler) upload(c echo.Context) error {
	ref := formats.RepoFrom(c)
	ctx := c.Request().Context()
	fm, err := h.readForm(c)
	if fm != nil {
		defer fm.close()
	}
	if err != nil {
		return err
	}
	u, err := checkUpload(fm)
	if err != nil {
		return err
	}
	meta, err := h.uploadMeta(fm, u)
	if err != nil {
		return err
	}
	p := pkg(u.project)
	// A different file under a name this repository already holds: say so
	// in the words twine --skip-existing looks for.
	if v, err := h.res.View(ctx, ref, p); err == nil {
		if vv := v.Versions[u.version]; vv != nil && vv.Repository == ref.Repository {
			if a := vv.Asset(fm.filename); a != nil && a.Digests.SHA256 != "" && a.Digests.SHA256 != fm.sha256 {
				return fmt.Errorf("%w: File already exists: %s in repository %s has other content (sha256 %s); delete the version to replace it", formats.ErrConflict, fm.filename, ref.Repository, a.Digests.SHA256)
			}
		}
	}
	extra, _ := json.Marshal(map[string]string{"name": u.display})
	err = h.res.Publish(ctx, ref, p, formats.Publication{
		Version: formats.Version{Version: u.version, Assets: []formats.AssetRef{{
			Name: fm.filename, Digests: formats.Digests{SHA256: fm.sha256, MD5: fm.md5}, Size: fm.size,
		}}},
		Content: func(string) (io.Reader, error) { return fm.file.Reader(), nil },
		Merge:   true,
		Extra:   extra,
	})
	if err != nil {
		return err
	}
	info := fm.info(u.display)
	err = h.res.UpdateVersion(ctx, ref, p, u.version, func(v *formats.Version) error {
		m := decodeMeta(v.Meta)
		if _, ok := m.Files[fm.filename]; !ok {
			m.Files[fm.filename] = meta
		}
		m.Info = info
		v.Meta = m.encode()
		return nil
	})
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte("OK\n"))
}

// uploadFields are an upload's project and version, checked against each
// other and the file.
type uploadFields struct {
	display    string // the project name as given
	project    string // normalised
	rawVersion string // as given
	version    string // normalised
	file       distFile
}

// checkUpload checks the fields of an upload form and its file.
func checkUpload(fm *form) (*uploadFields, error) {
	if a := fm.get(":action"); a != "file_upload" {
		if a == "" {
			return nil, invalid("the :action field is missing (expected file_upload)")
		}
		return nil, invalid("the action %.40q is not supported; only file_upload is", a)
	}
	if pv := fm.get("protocol_version"); pv != "" && pv != "1" {
		return nil, invalid("protocol_version %.20q is not supported; only 1 is", pv)
	}
	u := &uploadFields{display: fm.get("name"), rawVersion: fm.get("version")}
	if u.display == "" {
		return nil, invalid("the name field is missing")
	}
	if !validName(u.display) {
		return nil, invalid("%.100q is not a valid project name", u.display)
	}
	u.project = normalizeName(u.display)
	if u.rawVersion == "" {
		return nil, invalid("the version field is missing")
	}
	if _, ok := parseVersion(u.rawVersion); !ok {
		return nil, invalid("%.100q is not a valid PEP 440 version", u.rawVersion)
	}
	u.version = normalizeVersion(u.rawVersion)
	if fm.file == nil {
		return nil, invalid("the content part (the distribution file) is missing")
	}
	df, err := parseFilename(fm.filename, u.project)
	if err != nil {
		return nil, invalid("%v", err)
	}
	u.file = df
	if normalizeName(df.Name) != u.project || normalizeVersion(df.Version) != u.version {
		return nil, invalid("the file %s does not belong to %s %s", fm.filename, u.display, u.rawVersion)
	}
	if ft := fm.get("filetype"); ft != "" && ft != df.Kind {
		return nil, invalid("filetype %.40q does not match the file %s (%s)", ft, fm.filename, df.Kind)
	}
	if df.Kind == kindEgg {
		return nil, invalid("eggs are not accepted; upload a wheel or an sdist")
	}
	if d := strings.ToLower(fm.get("sha256_digest")); d != "" && d != fm.sha256 {
		return nil, invalid("sha256_digest %.64s does not match the file received (%s)", d, fm.sha256)
	}
	if d := strings.ToLower(fm.get("md5_digest")); d != "" && d != fm.md5 {
		return nil, invalid("md5_digest %.32s does not match the file received (%s)", d, fm.md5)
	}
	if fm.size == 0 {
		return nil, invalid("the file %s is empty", fm.filename)
	}
	return u, nil
}

// uploadMeta returns what is kept about an uploaded file; a wheel's
// METADATA must name the project and version of the upload.
func (h *handler) uploadMeta(fm *form, u *uploadFields) (*fileMeta, error) {
	df := u.file
	meta := &fileMeta{RequiresPython: formats.Truncate(fm.get("requires_python"), maxAttrLen), UploadTime: uploadTime(time.Now()), Kind: df.Kind, PyVersion: fm.get("pyversion")}
	if meta.PyVersion == "" {
		meta.PyVersion = df.PyVersion
	}
	if df.Kind != kindWheel {
		return meta, nil
	}
	core, err := wheelMetadata(fm.file, fm.size, u.project, min(h.f.opts.MaxMetadataSize, fm.in.MaxMetadataSize))
	if err != nil {
		return nil, invalid("%s: %v", fm.filename, err)
	}
	hd := metadataHeaders(core)
	if n := first(hd["name"]); normalizeName(n) != u.project {
		return nil, invalid("the METADATA of %s names the project %.100q, not %s", fm.filename, n, u.display)
	}
	if v := first(hd["version"]); normalizeVersion(v) != u.version {
		return nil, invalid("the METADATA of %s has version %.100q, not %s", fm.filename, v, u.rawVersion)
	}
	meta.CoreMetadata = sha256Hex(core)
	if meta.RequiresPython == "" {
		meta.RequiresPython = formats.Truncate(first(hd["requires-python"]), maxAttrLen)
	}
	return meta, nil
}

// readForm parses the multipart body, spooling the file to a temporary file
// while hashing it. The returned form, when not nil, must be closed.
func (h *handler) readForm(c echo.Context) (*form, error) {
	req := c.Request()
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, invalid("an upload is a multipart/form-data POST (as twine sends it)")
	}
	in := formats.IntakeFrom(c)
	limit := in.Body()
	if h.f.opts.MaxUploadSize > 0 {
		limit = min(limit, h.f.opts.MaxUploadSize)
	}
	if req.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body := http.MaxBytesReader(c.Response(), req.Body, limit)
	mr := multipart.NewReader(body, params["boundary"])
	fm := &form{fields: map[string][]string{}, in: in}
	var fieldBytes int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fm, readError(err, limit)
		}
		name := part.FormName()
		switch {
		case name == "content":
			if fm.file != nil {
				return fm, invalid("more than one content part")
			}
			fm.filename = part.FileName()
			if fm.filename == "" {
				return fm, invalid("the content part has no file name")
			}
			if err := fm.spool(part); err != nil {
				return fm, readError(err, limit)
			}
		case part.FileName() != "" || name == "gpg_signature" || name == "attestations":
			// Signatures and attestations are not kept.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return fm, readError(err, limit)
			}
		default:
			b, err := io.ReadAll(io.LimitReader(part, uploadField+1))
			if err != nil {
				return fm, readError(err, limit)
			}
			if len(b) > uploadField {
				return fm, fmt.Errorf("%w: pypi upload: the field %.40q is longer than %d bytes", formats.ErrTooLarge, name, uploadField)
			}
			fieldBytes += int64(len(b))
			if fieldBytes > maxFormFields {
				return fm, fmt.Errorf("%w: pypi upload: the metadata fields are larger than %d bytes", formats.ErrTooLarge, maxFormFields)
			}
			fm.fields[name] = append(fm.fields[name], string(b))
		}
		part.Close()
	}
	return fm, nil
}

// spool copies the file part into a spool file below the data directory,
// at most max_publish_size bytes of it, hashing it.
func (f *form) spool(r io.Reader) error {
	sp, err := f.in.NewSpool(f.in.MaxPublishSize, "pypi upload: the file")
	if err != nil {
		return err
	}
	f.file = sp
	sh, mh := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(sp, sh, mh), r)
	if err != nil {
		return err
	}
	f.size, f.sha256, f.md5 = n, hex.EncodeToString(sh.Sum(nil)), hex.EncodeToString(mh.Sum(nil))
	return nil
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: pypi upload: the request is larger than %d bytes", formats.ErrTooLarge, limit)
}

// readError classifies a failure to read the body.
func readError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	if errors.Is(err, formats.ErrTooLarge) {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err // spooling failed: ours, a 500
	}
	return invalid("malformed multipart body: %v", err)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// info keeps the core-metadata fields of an upload for the JSON API.
func (f *form) info(display string) *projectInfo {
	all := func(k string) []string {
		var out []string
		for _, v := range f.fields[k] {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	return &projectInfo{
		Name: display, Summary: formats.Truncate(f.get("summary"), maxAttrLen), Description: formats.Truncate(f.get("description"), maxDescription),
		DescriptionContentType: f.get("description_content_type"),
		Author:                 f.get("author"), AuthorEmail: f.get("author_email"),
		Maintainer: f.get("maintainer"), MaintainerEmail: f.get("maintainer_email"),
		License: f.get("license"), HomePage: f.get("home_page"), Keywords: f.get("keywords"),
		RequiresPython: f.get("requires_python"), RequiresDist: all("requires_dist"),
		Classifiers: all("classifiers"), ProjectURLs: all("project_urls"),
	}
}
