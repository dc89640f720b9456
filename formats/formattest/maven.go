package formattest

import (
	"fmt"
	"strings"
)

// MavenPOM is a minimal pom of a jar.
func MavenPOM(group, artifact, version string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>%s</groupId>
  <artifactId>%s</artifactId>
  <version>%s</version>
  <packaging>jar</packaging>
</project>
`, group, artifact, version)
}

// MavenFile is a file of a Maven repository with the .sha1 and .md5
// sidecars Maven Central keeps beside each, keyed by path.
func MavenFile(path string, body []byte) map[string][]byte {
	return map[string][]byte{path: body, path + ".sha1": []byte(SHA1(body)), path + ".md5": []byte(MD5(body))}
}

// MavenRegistry lays group:artifact out as Maven Central serves it, rooted
// at /maven2/ (as Central's repository URL ends): artifact-level
// maven-metadata.xml listing VersionCount releases, and the newest one's
// pom and jar (a manifest and classes of random bytes), each with its
// sidecars.
func MavenRegistry(group, artifact string) *Registry {
	rng := RNG("maven/" + group + ":" + artifact)
	versions := releases()
	newest := versions[len(versions)-1]
	dir := "maven2/" + strings.ReplaceAll(group, ".", "/") + "/" + artifact
	vdir := dir + "/" + newest + "/" + artifact + "-" + newest

	metadata := MavenMetadata(group, artifact, publishedAt(len(versions)-1).Format("20060102150405"), versions...)
	pom := MavenPOM(group, artifact, newest)
	files := []File{
		Text("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nImplementation-Title: "+artifact+"\r\nImplementation-Version: "+newest+"\r\n\r\n"),
		{Name: "META-INF/maven/" + group + "/" + artifact + "/pom.xml", Body: pom},
	}
	for i, left := 0, ArtifactSize; left > 0; i, left = i+1, left-48<<10 {
		files = append(files, File{Name: fmt.Sprintf("%s/Class%02d.class.bin", strings.ReplaceAll(group, ".", "/"), i), Body: Random(rng, min(left, 48<<10))})
	}
	jar := Zip(files...)

	out := MavenFile(dir+"/maven-metadata.xml", metadata)
	for p, b := range MavenFile(vdir+".pom", pom) {
		out[p] = b
	}
	for p, b := range MavenFile(vdir+".jar", jar) {
		out[p] = b
	}
	return &Registry{
		Files: out,
		Types: map[string]string{"xml": "text/xml", "pom": "text/xml", "jar": "application/java-archive", "sha1": "text/plain", "md5": "text/plain"},
		Metadata: Doc{Pair: "maven-metadata.xml", Path: "/" + dir + "/maven-metadata.xml",
			ProxyPath: strings.TrimPrefix(dir, "maven2") + "/maven-metadata.xml", Body: metadata, Contains: "<version>" + newest + "</version>"},
		Artifact: Doc{Pair: "jar", Path: "/" + vdir + ".jar", ProxyPath: strings.TrimPrefix(vdir, "maven2") + ".jar", Body: jar},
		Info: map[string]any{"group": group, "artifact": artifact, "versions": len(versions), "version": newest,
			"metadata_bytes": len(metadata), "jar_bytes": len(jar)},
	}
}
