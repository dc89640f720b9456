package maven

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Maven's default repository layout, relative to the repository base:
//
//	{g}/{a}/{v}/{a}-{v}[-{classifier}].{ext}              a file of a release
//	{g}/{a}/{base}-SNAPSHOT/{a}-{base}-{ts}-{n}[-{c}].{ext} a file of a snapshot build
//	{g}/{a}/{base}-SNAPSHOT/{a}-{base}-SNAPSHOT[-{c}].{ext} the newest build's file
//	{g}/{a}/maven-metadata.xml                            artifact-level metadata
//	{g}/{a}/{base}-SNAPSHOT/maven-metadata.xml            version-level metadata
//	{g}/maven-metadata.xml                                group-level (plugin) metadata
//	… every one of them + .md5 .sha1 .sha256 .sha512        checksum sidecars
//	.meta/prefixes.txt                                    prefix list (Maven 4)
//
// {g} is the groupId with '.' replaced by '/'. Names are case-sensitive.

// metadataFile is the name of every level of Maven metadata.
const metadataFile = "maven-metadata.xml"

// snapshotSuffix marks a snapshot version directory.
const snapshotSuffix = "-SNAPSHOT"

type pathKind int

const (
	// kindFile is a file of a version: jar, pom, module, asc, ….
	kindFile pathKind = iota
	// kindMetadata is {dirs}/maven-metadata.xml outside a snapshot
	// directory: artifact-level for (dirs[:n-1], dirs[n-1]) or group-level
	// for dirs; which one is decided by what the repositories know.
	kindMetadata
	// kindSnapshotMetadata is {g}/{a}/{base}-SNAPSHOT/maven-metadata.xml.
	kindSnapshotMetadata
	// kindPrefixes is .meta/prefixes.txt.
	kindPrefixes
)

// checksum algorithms of sidecar files, strongest last.
var checksumAlgos = []string{"md5", "sha1", "sha256", "sha512"}

// mavenPath is a parsed request path.
type mavenPath struct {
	kind pathKind
	// dirs are the directories above the file.
	dirs []string
	// group, artifact and dir are the coordinates of a file or of
	// snapshot metadata (dir is the version directory).
	group, artifact, dir string
	// file is the file name, without the checksum extension.
	file string
	// checksum is the algorithm of a sidecar ("sha1"), empty otherwise.
	checksum string
	// build is the version a file belongs to: dir for a release, the
	// timestamped build (1.0-20240502.141207-3) in a snapshot directory,
	// empty for a non-unique snapshot file (…-1.0-SNAPSHOT.jar).
	build string
	// suffix is what follows {a}-{version} in a file name: "-sources.jar",
	// ".pom".
	suffix string
}

// buildRE matches what follows {a}-{base}- in a timestamped snapshot file.
var buildRE = regexp.MustCompile(`^([0-9]{8}\.[0-9]{6})-([0-9]+)([.-].*)$`)

// buildVersionRE splits a snapshot build version into base, timestamp, number.
var buildVersionRE = regexp.MustCompile(`^(.+)-([0-9]{8}\.[0-9]{6})-([0-9]+)$`)

var errBadPath = fmt.Errorf("%w: maven: not a path of the Maven repository layout", formats.ErrInvalid)

// parsePath parses the part of a URL path below the repository base.
// Duplicate slashes are collapsed; "." and ".." segments are refused.
func parsePath(rest string) (*mavenPath, error) {
	var segs []string
	for _, s := range strings.Split(rest, "/") {
		switch s {
		case "":
			continue
		case ".", "..":
			return nil, errBadPath
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%w: maven: the repository root is not a file", formats.ErrNotFound)
	}
	if len(segs) == 2 && segs[0] == ".meta" && segs[1] == "prefixes.txt" {
		return &mavenPath{kind: kindPrefixes}, nil
	}
	p := &mavenPath{dirs: segs[:len(segs)-1], file: segs[len(segs)-1]}
	for _, a := range checksumAlgos {
		if base, ok := strings.CutSuffix(p.file, "."+a); ok && base != "" {
			p.file, p.checksum = base, a
			break
		}
	}
	n := len(p.dirs)
	if p.file == metadataFile {
		if n >= 3 && strings.HasSuffix(p.dirs[n-1], snapshotSuffix) {
			p.kind = kindSnapshotMetadata
			p.group, p.artifact, p.dir = strings.Join(p.dirs[:n-2], "."), p.dirs[n-2], p.dirs[n-1]
			return p, nil
		}
		if n == 0 {
			return nil, errBadPath
		}
		p.kind = kindMetadata
		return p, nil
	}
	if n < 3 {
		return nil, errBadPath
	}
	p.kind = kindFile
	p.group, p.artifact, p.dir = strings.Join(p.dirs[:n-2], "."), p.dirs[n-2], p.dirs[n-1]
	rest, ok := strings.CutPrefix(p.file, p.artifact+"-")
	if !ok {
		return nil, errBadPath
	}
	if base, ok := strings.CutSuffix(p.dir, snapshotSuffix); ok {
		if after, ok := strings.CutPrefix(rest, base+"-"); ok {
			if m := buildRE.FindStringSubmatch(after); m != nil {
				p.build = base + "-" + m[1] + "-" + m[2]
				p.suffix = m[3]
				return p, nil
			}
		}
	}
	suffix, ok := strings.CutPrefix(rest, p.dir)
	if !ok || suffix == "" || (suffix[0] != '.' && suffix[0] != '-') {
		return nil, errBadPath
	}
	p.suffix = suffix
	if !strings.HasSuffix(p.dir, snapshotSuffix) {
		p.build = p.dir
	}
	return p, nil
}

// artifactCandidate is the package a kindMetadata path names when it is
// artifact-level metadata; ok is false when the path is too short.
func (p *mavenPath) artifactCandidate() (formats.Package, bool) {
	n := len(p.dirs)
	if n < 2 {
		return formats.Package{}, false
	}
	return pkg(strings.Join(p.dirs[:n-1], "."), p.dirs[n-1]), true
}

// groupCandidate is the groupId a kindMetadata path names when it is
// group-level metadata.
func (p *mavenPath) groupCandidate() string { return strings.Join(p.dirs, ".") }

func pkg(group, artifact string) formats.Package {
	return formats.Package{Format: "maven", Namespace: group, Name: artifact}
}

// groupPath turns a groupId into its directory path.
func groupPath(group string) string { return strings.ReplaceAll(group, ".", "/") }

// isSnapshot reports whether a version directory names a snapshot.
func isSnapshot(v string) bool { return strings.HasSuffix(v, snapshotSuffix) }

// splitBuild splits a snapshot build version (1.0-20240502.141207-3) into
// its snapshot version (1.0-SNAPSHOT), timestamp and build number.
func splitBuild(v string) (snapshot, timestamp, number string, ok bool) {
	m := buildVersionRE.FindStringSubmatch(v)
	if m == nil {
		return "", "", "", false
	}
	return m[1] + snapshotSuffix, m[2], m[3], true
}

// classifierExtension splits a file suffix ("-sources.jar", ".pom",
// ".jar.asc") into classifier and extension.
func classifierExtension(suffix string) (classifier, extension string) {
	if rest, ok := strings.CutPrefix(suffix, "-"); ok {
		c, e, _ := strings.Cut(rest, ".")
		return c, e
	}
	return "", strings.TrimPrefix(suffix, ".")
}

// idRE is what Maven's model validator accepts as a groupId or an
// artifactId (DefaultModelValidator's ID_REGEX).
var idRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// CheckName implements formats.NameChecker: the namespace is a groupId, the
// name an artifactId, each as Maven's model validator accepts it.
func (f *Format) CheckName(p formats.Package) error {
	if !idRE.MatchString(p.Namespace) {
		return fmt.Errorf("%w: maven: a groupId (the namespace) is letters, digits, '_', '-' and '.'", formats.ErrInvalid)
	}
	if !idRE.MatchString(p.Name) {
		return fmt.Errorf("%w: maven: an artifactId (the package) is letters, digits, '_', '-' and '.'", formats.ErrInvalid)
	}
	return nil
}
