package maven_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Plugin versions Debian's libmaven-*-plugin-java packages install; the
// projects pin them so every plugin comes from the fake Central.
const pluginManagement = `
  <properties>
    <maven.compiler.source>11</maven.compiler.source>
    <maven.compiler.target>11</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <build>
    <pluginManagement><plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-install-plugin</artifactId><version>3.1.0</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-deploy-plugin</artifactId><version>3.0.0</version></plugin>
    </plugins></pluginManagement>
  </build>`

func libPom(version string) string {
	return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.internal</groupId>
  <artifactId>secret-lib</artifactId>
  <version>` + version + `</version>` + pluginManagement + `
</project>
`
}

const consumerPom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.app</groupId>
  <artifactId>consumer</artifactId>
  <version>1.0</version>
  <dependencies>
    <dependency><groupId>commons-io</groupId><artifactId>commons-io</artifactId><version>2.11.0</version></dependency>
    <dependency><groupId>com.example.internal</groupId><artifactId>secret-lib</artifactId><version>${secret.version}</version></dependency>
  </dependencies>` + pluginManagement + `
</project>
`

// settingsXML sends every repository to Stockpile's app repository and
// lets it serve snapshots; credentials as CodeArtifact's guide writes them.
func settingsXML(appURL, token string) string {
	return `<settings>
  <servers><server><id>stockpile</id><username>aws</username><password>` + token + `</password></server></servers>
  <mirrors><mirror><id>stockpile</id><mirrorOf>*</mirrorOf><url>` + appURL + `</url></mirror></mirrors>
  <profiles><profile><id>snapshots</id>
    <repositories><repository><id>central</id><url>http://unused.invalid</url>
      <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots></repository></repositories>
    <pluginRepositories><pluginRepository><id>central</id><url>http://unused.invalid</url>
      <snapshots><enabled>true</enabled></snapshots></pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>snapshots</activeProfile></activeProfiles>
</settings>
`
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMvn drives Maven 3.8 against Stockpile: every plugin and dependency
// comes through app → team → maven-store from a fake Central built from
// Debian's Maven repository, with a fresh local repository for each run
// and strict checksums.
func TestMvn(t *testing.T) {
	runMvn(t, envOptions{auth: true})
}

// TestMvnReplicas is the Maven scenario through a load balancer over three
// replicas on PostgreSQL and SeaweedFS.
func TestMvnReplicas(t *testing.T) {
	runMvn(t, envOptions{auth: true, replicas: 3})
}

func runMvn(t *testing.T, o envOptions) {
	mvn := proxytest.RequireTool(t, "mvn")
	e := startEnv(t, o)
	e.central.debian(t)
	// The public repository has a higher secret-lib than the one deployed
	// inside the domain, within the consumer's range.
	e.central.artifact("com.example.internal", "secret-lib", "1.5", jarOf(t, "secret/Lib.class", "not a class"))

	work := t.TempDir()
	settings := filepath.Join(work, "settings.xml")
	writeFiles(t, work, map[string]string{
		"settings.xml":                      settingsXML(e.url("app"), e.token),
		"lib/pom-release.xml":               libPom("1.0"),
		"lib/pom-snapshot.xml":              libPom("2.0-SNAPSHOT"),
		"lib/src/main/java/secret/Lib.java": "package secret;\npublic class Lib { public static String name() { return \"internal\"; } }\n",
		"consumer/pom.xml":                  consumerPom,
		"consumer/src/main/java/app/App.java": "package app;\npublic class App { public static void main(String[] a) {\n" +
			"  System.out.println(org.apache.commons.io.FilenameUtils.getExtension(\"x.txt\") + secret.Lib.name()); } }\n",
	})
	run := func(t *testing.T, dir, localRepo string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append([]string{"-B", "-ntp", "-C", "-s", settings, "-Dmaven.repo.local=" + localRepo}, args...)
		cmd := exec.CommandContext(ctx, mvn, full...)
		cmd.Dir = filepath.Join(work, dir)
		cmd.Env = append(os.Environ(), "MAVEN_OPTS=-Xshare:auto -XX:TieredStopAtLevel=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			lines := strings.Split(string(out), "\n")
			if len(lines) > 80 {
				lines = lines[len(lines)-80:]
			}
			t.Fatalf("mvn %s: %v\n%s", strings.Join(args, " "), err, strings.Join(lines, "\n"))
		}
		if os.Getenv("STOCKPILE_MVN_LOG") != "" {
			t.Logf("mvn %s:\n%s", strings.Join(args, " "), out)
		}
	}
	deployTo := "-DaltDeploymentRepository=stockpile::" + e.url("internal")

	t.Run("deploy an internal release", func(t *testing.T) {
		run(t, "lib", t.TempDir(), "-f", "pom-release.xml", "deploy", deployTo)
		if s := e.held(t, "internal", "com.example.internal", "secret-lib", "1.0"); s != formats.StatusPublished {
			t.Fatalf("secret-lib 1.0 in internal: %q", s)
		}
		if s := e.held(t, "app", "org.apache.maven.plugins", "maven-deploy-plugin", "3.0.0"); s != formats.StatusPublished {
			t.Fatalf("the deploy plugin did not come through app: %q", s)
		}
		if s := e.held(t, "maven-store", "org.apache.maven.plugins", "maven-compiler-plugin", "3.10.1"); s != formats.StatusPublished {
			t.Fatalf("the compiler plugin is not retained in maven-store: %q", s)
		}
	})
	t.Run("a range resolves the internal version, not the public higher one", func(t *testing.T) {
		repo := t.TempDir()
		run(t, "consumer", repo, "-Dsecret.version=[1.0,2.0)", "package")
		if _, err := os.Stat(filepath.Join(repo, "com/example/internal/secret-lib/1.0/secret-lib-1.0.jar")); err != nil {
			t.Fatalf("secret-lib 1.0 was not resolved: %v", err)
		}
		if _, err := os.Stat(filepath.Join(repo, "com/example/internal/secret-lib/1.5")); err == nil {
			t.Fatal("the public secret-lib 1.5 was resolved")
		}
	})
	t.Run("snapshot deploys and resolve", func(t *testing.T) {
		run(t, "lib", t.TempDir(), "-f", "pom-snapshot.xml", "deploy", deployTo)
		run(t, "lib", t.TempDir(), "-f", "pom-snapshot.xml", "deploy", deployTo)
		repo := t.TempDir()
		run(t, "consumer", repo, "-Dsecret.version=2.0-SNAPSHOT", "package")
		md, err := os.ReadFile(filepath.Join(repo, "com/example/internal/secret-lib/2.0-SNAPSHOT/maven-metadata-stockpile.xml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), "<buildNumber>2</buildNumber>") {
			t.Fatalf("resolved snapshot metadata:\n%s", md)
		}
		r := e.get(t, e.url("internal")+"com/example/internal/secret-lib/2.0-SNAPSHOT/maven-metadata.xml")
		if r.code != 200 || !strings.Contains(string(r.body), "<buildNumber>2</buildNumber>") {
			t.Fatalf("%d %s", r.code, r.body)
		}
	})
	t.Run("upstream stopped, fresh build from Stockpile", func(t *testing.T) {
		e.central.Fake.Close()
		e.google.Fake.Close()
		if !e.replicas { // replicas keep running: what they stored must do
			e.in.Restart()
		}
		run(t, "consumer", t.TempDir(), "-Dsecret.version=[1.0,2.0)", "package")
	})
}
