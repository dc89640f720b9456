package maven

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		want    *mavenPath
		wantErr error
	}{
		{"release jar", "/com/example/proxytest/widget-core/1.10.0/widget-core-1.10.0.jar",
			&mavenPath{kind: kindFile, dirs: []string{"com", "example", "proxytest", "widget-core", "1.10.0"}, group: "com.example.proxytest", artifact: "widget-core", dir: "1.10.0", file: "widget-core-1.10.0.jar", build: "1.10.0", suffix: ".jar"}, nil},
		{"classifier and sidecar", "com/ex/a/1.0/a-1.0-sources.jar.sha512",
			&mavenPath{kind: kindFile, dirs: []string{"com", "ex", "a", "1.0"}, group: "com.ex", artifact: "a", dir: "1.0", file: "a-1.0-sources.jar", checksum: "sha512", build: "1.0", suffix: "-sources.jar"}, nil},
		{"duplicate slashes collapse", "//com//ex/a/1.0//a-1.0.pom",
			&mavenPath{kind: kindFile, dirs: []string{"com", "ex", "a", "1.0"}, group: "com.ex", artifact: "a", dir: "1.0", file: "a-1.0.pom", build: "1.0", suffix: ".pom"}, nil},
		{"timestamped snapshot", "com/ex/a/2.1.0-SNAPSHOT/a-2.1.0-20240502.141207-3-sources.jar",
			&mavenPath{kind: kindFile, dirs: []string{"com", "ex", "a", "2.1.0-SNAPSHOT"}, group: "com.ex", artifact: "a", dir: "2.1.0-SNAPSHOT", file: "a-2.1.0-20240502.141207-3-sources.jar", build: "2.1.0-20240502.141207-3", suffix: "-sources.jar"}, nil},
		{"non-unique snapshot", "com/ex/a/2.1.0-SNAPSHOT/a-2.1.0-SNAPSHOT.jar",
			&mavenPath{kind: kindFile, dirs: []string{"com", "ex", "a", "2.1.0-SNAPSHOT"}, group: "com.ex", artifact: "a", dir: "2.1.0-SNAPSHOT", file: "a-2.1.0-SNAPSHOT.jar", suffix: ".jar"}, nil},
		{"artifactId with dashes and version prefix", "org/x/foo-bar/1.0-rc1/foo-bar-1.0-rc1.pom",
			&mavenPath{kind: kindFile, dirs: []string{"org", "x", "foo-bar", "1.0-rc1"}, group: "org.x", artifact: "foo-bar", dir: "1.0-rc1", file: "foo-bar-1.0-rc1.pom", build: "1.0-rc1", suffix: ".pom"}, nil},
		{"artifact metadata", "com/ex/a/maven-metadata.xml",
			&mavenPath{kind: kindMetadata, dirs: []string{"com", "ex", "a"}, file: "maven-metadata.xml"}, nil},
		{"metadata sidecar", "com/ex/a/maven-metadata.xml.md5",
			&mavenPath{kind: kindMetadata, dirs: []string{"com", "ex", "a"}, file: "maven-metadata.xml", checksum: "md5"}, nil},
		{"snapshot metadata", "com/ex/a/1.0-SNAPSHOT/maven-metadata.xml.sha1",
			&mavenPath{kind: kindSnapshotMetadata, dirs: []string{"com", "ex", "a", "1.0-SNAPSHOT"}, group: "com.ex", artifact: "a", dir: "1.0-SNAPSHOT", file: "maven-metadata.xml", checksum: "sha1"}, nil},
		{"prefixes", ".meta/prefixes.txt", &mavenPath{kind: kindPrefixes}, nil},
		{"file not of its version", "com/ex/a/1.0/b-1.0.jar", nil, formats.ErrInvalid},
		{"file of another version", "com/ex/a/1.0/a-1.01.jar", nil, formats.ErrInvalid},
		{"too short", "a/1.0/a-1.0.jar", nil, formats.ErrInvalid},
		{"dot dot", "com/../a/1.0/a-1.0.jar", nil, formats.ErrInvalid},
		{"root", "/", nil, formats.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePath(tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(mavenPath{})); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassifierExtension(t *testing.T) {
	tests := []struct{ suffix, classifier, extension string }{
		{".jar", "", "jar"},
		{".pom.asc", "", "pom.asc"},
		{"-sources.jar", "sources", "jar"},
		{"-bin.tar.gz", "bin", "tar.gz"},
	}
	for _, tc := range tests {
		t.Run(tc.suffix, func(t *testing.T) {
			c, e := classifierExtension(tc.suffix)
			if c != tc.classifier || e != tc.extension {
				t.Fatalf("got %q %q, want %q %q", c, e, tc.classifier, tc.extension)
			}
		})
	}
}

// The documents of the protocol reference (§A.6), byte for byte.
// FixtureArtifactMetadata is exported for engine_test.go's merged-metadata
// check.
const (
	FixtureArtifactMetadata = `<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>com.example.proxytest</groupId>
  <artifactId>widget-core</artifactId>
  <versioning>
    <latest>2.0.0-RC1</latest>
    <release>2.0.0-RC1</release>
    <versions>
      <version>1.2.0</version>
      <version>1.10.0</version>
      <version>2.0.0-RC1</version>
    </versions>
    <lastUpdated>20240412093015</lastUpdated>
  </versioning>
</metadata>
`
	fixtureArtifactMetadataSHA1 = "ce9a74125f3414bbd9cb1896c17c8e310731879a"
	fixtureArtifactMetadataMD5  = "9ba0726c7b83fca7318e7026a3d221c7"

	fixtureSnapshotMetadata = `<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>com.example.proxytest</groupId>
  <artifactId>widget-core</artifactId>
  <version>2.1.0-SNAPSHOT</version>
  <versioning>
    <snapshot>
      <timestamp>20240502.141207</timestamp>
      <buildNumber>3</buildNumber>
    </snapshot>
    <lastUpdated>20240502141207</lastUpdated>
    <snapshotVersions>
      <snapshotVersion>
        <extension>jar</extension>
        <value>2.1.0-20240502.141207-3</value>
        <updated>20240502141207</updated>
      </snapshotVersion>
      <snapshotVersion>
        <extension>pom</extension>
        <value>2.1.0-20240502.141207-3</value>
        <updated>20240502141207</updated>
      </snapshotVersion>
      <snapshotVersion>
        <classifier>sources</classifier>
        <extension>jar</extension>
        <value>2.1.0-20240502.141207-3</value>
        <updated>20240502141207</updated>
      </snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>
`
	fixtureSnapshotMetadataSHA1 = "e9ab9a6077f4ea84b193976b38b0257e524b8ff4"
)

func TestRenderMetadata(t *testing.T) {
	art := artifactMetadata{Group: "com.example.proxytest", Artifact: "widget-core",
		Versions: []string{"2.0.0-RC1", "1.10.0", "1.2.0"}, LastUpdated: time.Date(2024, 4, 12, 9, 30, 15, 0, time.UTC)}
	snap := snapshotMetadata{Group: "com.example.proxytest", Artifact: "widget-core", Version: "2.1.0-SNAPSHOT",
		Timestamp: "20240502.141207", BuildNumber: "3",
		Files: []snapshotFile{{"sources", "jar"}, {"", "pom"}, {"", "jar"}}}
	tests := []struct {
		name     string
		got      []byte
		want     string
		wantSHA1 string
	}{
		{"artifact level (A.6.1)", art.render(), FixtureArtifactMetadata, fixtureArtifactMetadataSHA1},
		{"snapshot level (A.6.2)", snap.render(), fixtureSnapshotMetadata, fixtureSnapshotMetadataSHA1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, string(tc.got)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if got := digest(tc.got, "sha1"); got != tc.wantSHA1 {
				t.Fatalf("sha1 %s, want %s", got, tc.wantSHA1)
			}
		})
	}
	t.Run("release skips snapshots, latest does not", func(t *testing.T) {
		m := artifactMetadata{Group: "g", Artifact: "a", Versions: []string{"1.0", "1.1-SNAPSHOT"}}
		got, err := parseMetadata(m.render())
		if err != nil {
			t.Fatal(err)
		}
		if got.Versioning.Latest != "1.1-SNAPSHOT" || got.Versioning.Release != "1.0" || got.Versioning.LastUpdated != "" {
			t.Fatalf("latest %q release %q lastUpdated %q", got.Versioning.Latest, got.Versioning.Release, got.Versioning.LastUpdated)
		}
	})
}

func TestParseMetadataRefusesErrorPages(t *testing.T) {
	tests := []struct{ name, body string }{
		{"html", "<html><body>503 Service Unavailable</body></html>"},
		{"json", `{"error":"Not found"}`},
		{"truncated", `<?xml version="1.0"?><metadata><groupId>g</groupId><versioning><versions><version>1.0`},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseMetadata([]byte(tc.body)); err == nil {
				t.Fatal("parsed")
			}
		})
	}
}

func TestParseSidecar(t *testing.T) {
	const sha1 = "ce9a74125f3414bbd9cb1896c17c8e310731879a"
	tests := []struct {
		name, body, want string
		ok               bool
	}{
		{"bare", sha1, sha1, true},
		{"with newline", sha1 + "\n", sha1, true},
		{"with file name", sha1 + "  widget-core-1.10.0.jar\n", sha1, true},
		{"upper case", "CE9A74125F3414BBD9CB1896C17C8E310731879A", sha1, true},
		{"bsd style", "SHA1 (widget.jar) = " + sha1, sha1, true},
		{"wrong length", "abc123", "", false},
		{"html", "<html>nope</html>", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseSidecar([]byte(tc.body), "sha1")
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
