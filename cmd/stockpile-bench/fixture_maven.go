package main

import (
	"fmt"
	"strings"
)

// mavenFixtureSpec: an artifact in a Maven 2 layout rooted at /maven2/ (as
// Central's repository URL ends), its artifact-level maven-metadata.xml and
// the newest version's pom and jar with .sha1 and .md5 sidecars.
var mavenFixtureSpec = formatFixtureSpec{
	scenario:   "warm-maven",
	format:     "maven",
	connection: "public:maven-central",
	connPath:   "/maven2/",
	types: map[string]string{"xml": "text/xml", "pom": "text/xml", "jar": "application/java-archive",
		"sha1": "text/plain", "md5": "text/plain"},
	locations: `        location / {
        }`,
	generate: func(base string) (*FormatFixture, error) {
		return generateMavenFixture(base, "org.stockpile.bench", "bench-lib")
	},
}

// generateMavenFixture builds group:artifact with formatVersions releases;
// the newest has a pom and a real jar (a manifest, classes of random bytes).
func generateMavenFixture(base, group, artifact string) (*FormatFixture, error) {
	rng := fxRNG("maven/" + group + ":" + artifact)
	versions := fxVersions(formatVersions)
	newest := versions[len(versions)-1]
	dir := strings.ReplaceAll(group, ".", "/") + "/" + artifact

	var md strings.Builder
	fmt.Fprintf(&md, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <versioning>\n    <latest>%s</latest>\n    <release>%s</release>\n    <versions>\n", group, artifact, newest, newest)
	for _, v := range versions {
		fmt.Fprintf(&md, "      <version>%s</version>\n", v)
	}
	fmt.Fprintf(&md, "    </versions>\n    <lastUpdated>%s</lastUpdated>\n  </versioning>\n</metadata>\n", fxPublished(len(versions)-1).Format("20060102150405"))
	metadata := []byte(md.String())

	pom := []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>%s</groupId>
  <artifactId>%s</artifactId>
  <version>%s</version>
  <packaging>jar</packaging>
  <name>%s</name>
  <description>A generated benchmark fixture.</description>
  <url>https://example.com/%s</url>
  <licenses><license><name>MIT</name><url>https://opensource.org/licenses/MIT</url></license></licenses>
  <dependencies>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.13</version></dependency>
    <dependency><groupId>com.google.guava</groupId><artifactId>guava</artifactId><version>33.2.0-jre</version></dependency>
    <dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId><version>5.10.2</version><scope>test</scope></dependency>
  </dependencies>
</project>
`, group, artifact, newest, artifact, artifact))

	pkgDir := strings.ReplaceAll(group, ".", "/") + "/" + strings.ReplaceAll(artifact, "-", "")
	files := []archiveFile{
		{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\r\nCreated-By: stockpile-bench\r\nImplementation-Title: " + artifact + "\r\nImplementation-Version: " + newest + "\r\n\r\n")},
		{"META-INF/maven/" + group + "/" + artifact + "/pom.xml", pom},
		{"META-INF/maven/" + group + "/" + artifact + "/pom.properties", []byte("artifactId=" + artifact + "\ngroupId=" + group + "\nversion=" + newest + "\n")},
	}
	// Classes: a few members of random bytes, stored.
	left := formatArtifactSize
	for i := 0; left > 0; i++ {
		n := min(left, 48<<10)
		files = append(files, archiveFile{fmt.Sprintf("%s/Bench%02d.class.bin", pkgDir, i), fxRandom(rng, n)})
		left -= n
	}
	jar, err := fxZip(files)
	if err != nil {
		return nil, fmt.Errorf("maven fixture: %w", err)
	}

	vdir := dir + "/" + newest + "/" + artifact + "-" + newest
	root := "maven2/"
	out := map[string][]byte{
		root + dir + "/maven-metadata.xml":      metadata,
		root + dir + "/maven-metadata.xml.sha1": []byte(fxSHA1(metadata)),
		root + dir + "/maven-metadata.xml.md5":  []byte(fxMD5(metadata)),
		root + vdir + ".pom":                    pom,
		root + vdir + ".pom.sha1":               []byte(fxSHA1(pom)),
		root + vdir + ".pom.md5":                []byte(fxMD5(pom)),
		root + vdir + ".jar":                    jar,
		root + vdir + ".jar.sha1":               []byte(fxSHA1(jar)),
		root + vdir + ".jar.md5":                []byte(fxMD5(jar)),
	}
	return &FormatFixture{
		Files: out,
		Metadata: FixtureDoc{Pair: "maven-metadata.xml", NginxPath: "/" + root + dir + "/maven-metadata.xml",
			StockpilePath: "/" + dir + "/maven-metadata.xml", Body: metadata, Contains: "<version>" + newest + "</version>"},
		Artifact: FixtureDoc{Pair: "jar", NginxPath: "/" + root + vdir + ".jar", StockpilePath: "/" + vdir + ".jar", Body: jar},
		Info: map[string]any{"group": group, "artifact": artifact, "versions": len(versions), "version": newest,
			"metadata_bytes": len(metadata), "jar_bytes": len(jar)},
	}, nil
}
