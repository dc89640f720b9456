package maven

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Deploys, as mvn deploy and Gradle's maven-publish send them: each file of
// a version (PUT), then its checksums, then the artifact's metadata (and
// for a snapshot, first the version-level metadata). A version is
// Unfinished, invisible and not downloadable, until a metadata upload names
// it; then it is Published. Checksums are compared with the stored bytes,
// never stored. An uploaded maven-metadata.xml is a signal, never stored:
// metadata is always generated from what the repositories hold.

func (h *handler) put(c echo.Context, p *mavenPath) error {
	switch p.kind {
	case kindPrefixes:
		return fmt.Errorf("%w: maven: .meta/prefixes.txt is generated, not uploaded", formats.ErrInvalid)
	case kindFile:
		if p.checksum != "" {
			return h.putChecksum(c, p)
		}
		return h.putFile(c, p)
	}
	if p.checksum != "" {
		// The client's checksum of the metadata it uploaded: the document
		// served is generated, with checksums of its own.
		_, _ = io.Copy(io.Discard, io.LimitReader(c.Request().Body, 1<<10))
		return c.NoContent(http.StatusCreated)
	}
	limit := min(maxMetadata, formats.IntakeFrom(c).MaxMetadataSize)
	if c.Request().ContentLength > limit {
		return formats.TooLarge("maven", "metadata", limit)
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > limit {
		return formats.TooLarge("maven", "metadata", limit)
	}
	m, err := parseMetadata(body)
	if err != nil {
		return fmt.Errorf("%w: maven: %v", formats.ErrInvalid, err)
	}
	if p.kind == kindSnapshotMetadata {
		err = h.putSnapshotMetadata(c, p, m)
	} else {
		err = h.putMetadata(c, p, m)
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusCreated)
}

var errProbe = errors.New("probe")

// probe returns the version as the requested repository holds it, or nil.
func (h *handler) probe(ctx context.Context, ref formats.RepoRef, pk formats.Package, version string) (*formats.Version, error) {
	var got *formats.Version
	err := h.res.UpdateVersion(ctx, ref, pk, version, func(v *formats.Version) error {
		cp := *v
		got = &cp
		return errProbe
	})
	switch {
	case errors.Is(err, errProbe):
		return got, nil
	case errors.Is(err, formats.ErrNotFound):
		return nil, nil
	}
	return nil, err
}

// putFile stores one file of a version. The first file of a version
// creates it Unfinished; later files are added to it, whatever its status
// (Maven adds sources or signatures after the fact). The same bytes again
// are a success, other bytes under an existing name a conflict (the
// engine's Merge).
func (h *handler) putFile(c echo.Context, p *mavenPath) error {
	if p.build == "" {
		return fmt.Errorf("%w: maven: %s: deploy snapshots with unique (timestamped) versions", formats.ErrInvalid, p.file)
	}
	limit := formats.IntakeFrom(c).MaxPublishSize
	if c.Request().ContentLength > limit {
		return formats.TooLarge("maven", p.file, limit)
	}
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	pk := pkg(p.group, p.artifact)
	cur, err := h.probe(ctx, ref, pk, p.build)
	if err != nil {
		return err
	}
	pub := formats.Publication{
		Version: formats.Version{Version: p.build, Assets: []formats.AssetRef{{Name: p.file}}},
		Content: func(string) (io.Reader, error) {
			return formats.LimitBody(c.Request().Body, limit, "maven", p.file), nil
		},
		Merge: true,
	}
	if cur == nil {
		pub.Version.Status = formats.StatusUnfinished
		if p.build != p.dir {
			pub.Version.Meta = versionMeta{Snapshot: p.dir}.raw()
		}
	}
	if err := h.res.Publish(ctx, ref, pk, pub); err != nil {
		return err
	}
	return c.NoContent(http.StatusCreated)
}

// putChecksum compares an uploaded checksum with the stored file's: a
// mismatch is refused (400) and remembered, so the version cannot be
// published until a matching checksum is uploaded. As CodeArtifact does,
// the comparison is exact: lower-case hex.
func (h *handler) putChecksum(c echo.Context, p *mavenPath) error {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	pk := pkg(p.group, p.artifact)
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 4<<10))
	if err != nil {
		return err
	}
	var got string
	if f := strings.Fields(string(body)); len(f) > 0 {
		got = f[0]
	}
	if p.build == "" {
		return fmt.Errorf("%w: maven: %s: deploy snapshots with unique (timestamped) versions", formats.ErrInvalid, p.file)
	}
	cur, err := h.probe(ctx, ref, pk, p.build)
	if err != nil {
		return err
	}
	var a *formats.AssetRef
	if cur != nil {
		a = cur.Asset(p.file)
	}
	if a == nil {
		return fmt.Errorf("%w: maven: checksum of %s uploaded before the file", formats.ErrNotFound, p.file)
	}
	var want string
	switch p.checksum {
	case "md5":
		want = a.Digests.MD5
	case "sha1":
		want = a.Digests.SHA1
	case "sha256":
		want = a.Digests.SHA256
	case "sha512":
		want = a.Digests.SHA512
	}
	name := p.file + "." + p.checksum
	ok := got == want
	meta := readMeta(cur.Meta)
	flagged := slices.Contains(meta.BadChecksums, name)
	if ok == !flagged {
		if ok {
			return c.NoContent(http.StatusCreated)
		}
	} else {
		err := h.res.UpdateVersion(ctx, ref, pk, p.build, func(v *formats.Version) error {
			m := readMeta(v.Meta)
			m.BadChecksums = slices.DeleteFunc(m.BadChecksums, func(s string) bool { return s == name })
			if !ok {
				m.BadChecksums = append(m.BadChecksums, name)
			}
			v.Meta = m.raw()
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("%w: maven: the %s checksum of %s is %s, the uploaded one %q", formats.ErrInvalid, p.checksum, p.file, want, got)
	}
	return c.NoContent(http.StatusCreated)
}

// publishVersion turns an Unfinished version Published; a version with a
// mismatching checksum stays Unfinished and the upload is refused.
func (h *handler) publishVersion(ctx context.Context, ref formats.RepoRef, pk formats.Package, version string) error {
	return h.res.UpdateVersion(ctx, ref, pk, version, func(v *formats.Version) error {
		if v.Status != formats.StatusUnfinished {
			return errProbe // nothing to do
		}
		if bad := readMeta(v.Meta).BadChecksums; len(bad) > 0 {
			return fmt.Errorf("%w: maven: version %s cannot be published: the uploaded checksums of %s do not match", formats.ErrInvalid, version, strings.Join(bad, ", "))
		}
		v.Status = formats.StatusPublished
		return nil
	})
}

// putMetadata takes an artifact-level or group-level maven-metadata.xml.
func (h *handler) putMetadata(c echo.Context, p *mavenPath, m *xmlMetadata) error {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	if m.Versioning == nil {
		if len(m.Plugins) == 0 {
			return fmt.Errorf("%w: maven: the metadata has neither <versioning> nor <plugins>", formats.ErrInvalid)
		}
		return h.putPlugins(ctx, ref, p.groupCandidate(), m.Plugins)
	}
	pk, ok := p.artifactCandidate()
	if !ok || (m.GroupID != "" && m.GroupID != pk.Namespace) || (m.ArtifactID != "" && m.ArtifactID != pk.Name) {
		return fmt.Errorf("%w: maven: the metadata of %s:%s does not belong at this path", formats.ErrInvalid, m.GroupID, m.ArtifactID)
	}
	v, err := h.res.View(ctx, ref, pk)
	if errors.Is(err, formats.ErrNotFound) {
		return nil // names nothing deployed here
	}
	if err != nil {
		return err
	}
	for _, ver := range m.Versioning.Versions {
		if isSnapshot(ver) {
			if len(builds(v, ver, formats.StatusPublished)) > 0 {
				continue
			}
			if bs := builds(v, ver, formats.StatusUnfinished); len(bs) > 0 && bs[0].View.Repository == ref.Repository {
				if err := h.promoteBuild(ctx, ref, pk, v, ver, bs[0].Version); err != nil {
					return err
				}
			}
			continue
		}
		vv := v.Versions[ver]
		if vv == nil || vv.Status != formats.StatusUnfinished || vv.Repository != ref.Repository || vv.Connection != "" {
			continue
		}
		if err := h.publishVersion(ctx, ref, pk, ver); err != nil && !errors.Is(err, errProbe) {
			return err
		}
	}
	return nil
}

// putSnapshotMetadata takes version-level metadata: the build it names
// becomes the Published one, the builds before it Unlisted.
func (h *handler) putSnapshotMetadata(c echo.Context, p *mavenPath, m *xmlMetadata) error {
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	pk := pkg(p.group, p.artifact)
	if m.Versioning == nil || m.Versioning.Snapshot == nil || m.Versioning.Snapshot.Timestamp == "" || m.Versioning.Snapshot.BuildNumber == "" {
		return fmt.Errorf("%w: maven: snapshot metadata without <snapshot><timestamp> and <buildNumber>", formats.ErrInvalid)
	}
	if (m.Version != "" && m.Version != p.dir) || (m.ArtifactID != "" && m.ArtifactID != pk.Name) || (m.GroupID != "" && m.GroupID != pk.Namespace) {
		return fmt.Errorf("%w: maven: the metadata of %s:%s:%s does not belong at this path", formats.ErrInvalid, m.GroupID, m.ArtifactID, m.Version)
	}
	b := strings.TrimSuffix(p.dir, snapshotSuffix) + "-" + m.Versioning.Snapshot.Timestamp + "-" + m.Versioning.Snapshot.BuildNumber
	v, err := h.res.View(ctx, ref, pk)
	if err != nil && !errors.Is(err, formats.ErrNotFound) {
		return err
	}
	vv := (*formats.ViewVersion)(nil)
	if v != nil {
		vv = v.Versions[b]
	}
	if vv == nil || vv.Repository != ref.Repository || vv.Connection != "" {
		return fmt.Errorf("%w: maven: the metadata names build %s, which was not uploaded here", formats.ErrInvalid, b)
	}
	return h.promoteBuild(ctx, ref, pk, v, p.dir, b)
}

// promoteBuild publishes build and unlists the other Published builds of
// the same snapshot version in the repository.
func (h *handler) promoteBuild(ctx context.Context, ref formats.RepoRef, pk formats.Package, v *formats.View, snapshot, b string) error {
	if err := h.publishVersion(ctx, ref, pk, b); err != nil && !errors.Is(err, errProbe) {
		return err
	}
	for _, old := range builds(v, snapshot, formats.StatusPublished) {
		if old.Version == b || old.View.Repository != ref.Repository {
			continue
		}
		err := h.res.UpdateVersion(ctx, ref, pk, old.Version, func(v *formats.Version) error {
			if v.Status != formats.StatusPublished {
				return errProbe
			}
			v.Status = formats.StatusUnlisted
			return nil
		})
		if err != nil && !errors.Is(err, errProbe) {
			return err
		}
	}
	return nil
}

// putPlugins records the group-level entries of the plugins deployed in
// this repository; entries for plugins held elsewhere (the client merges
// what it downloaded) are left to their holders.
func (h *handler) putPlugins(ctx context.Context, ref formats.RepoRef, group string, plugins []xmlPlugin) error {
	for _, pl := range plugins {
		if pl.ArtifactID == "" || pl.Prefix == "" {
			continue
		}
		pk := pkg(group, pl.ArtifactID)
		v, err := h.res.View(ctx, ref, pk)
		if errors.Is(err, formats.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		hosted := false
		for _, vv := range v.Versions {
			if vv.Repository == ref.Repository && vv.Connection == "" {
				hosted = true
				break
			}
		}
		if !hosted {
			continue
		}
		entry := pl
		err = h.res.UpdatePackage(ctx, ref, pk, func(st *formats.PackageState) error {
			var extra packageExtra
			if len(st.Extra) > 0 {
				_ = json.Unmarshal(st.Extra, &extra)
			}
			extra.Plugin = &entry
			b, err := json.Marshal(extra)
			st.Extra = b
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
