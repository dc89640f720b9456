package maven_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// gradleBuild resolves one dynamic version and one fixed version through a
// Maven repository with credentials, and prints the files it got. It is
// written for Gradle 4.4 (Debian's), which needs no opt-in for plain http.
const gradleBuild = `apply plugin: 'base'
repositories {
    maven {
        url System.getenv('STOCKPILE_URL')
        credentials {
            username 'aws'
            password System.getenv('STOCKPILE_TOKEN')
        }
    }
}
configurations { deps }
dependencies {
    deps 'com.example.lib:util:1.+'
    deps 'com.example.lib:other:2.0'
}
task resolve {
    doLast {
        configurations.deps.files.each { println 'RESOLVED ' + it.name }
    }
}
`

// TestGradle drives Debian's Gradle (4.4) through Stockpile with a fresh
// Gradle user home: a dynamic version read from the generated metadata,
// credentials sent after the Basic challenge.
func TestGradle(t *testing.T) {
	gradle := proxytest.RequireTool(t, "gradle")
	e := startEnv(t, envOptions{auth: true})
	for _, v := range []string{"1.0", "1.2", "1.10"} {
		e.central.artifact("com.example.lib", "util", v, jarOf(t, "u.txt", "util "+v+"\n"))
	}
	e.google.artifact("com.example.lib", "util", "2.0", jarOf(t, "u.txt", "util 2.0\n"))
	e.google.artifact("com.example.lib", "other", "2.0", jarOf(t, "o.txt", "other 2.0\n"))

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"build.gradle": gradleBuild, "settings.gradle": "rootProject.name = 'consumer'\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gradle, "--no-daemon", "-q", "-g", filepath.Join(t.TempDir(), "gradle-home"), "resolve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STOCKPILE_URL="+e.url("app"), "STOCKPILE_TOKEN="+e.token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gradle: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(l), "RESOLVED "); ok {
			got = append(got, name)
		}
	}
	if strings.Join(got, " ") != "util-1.10.jar other-2.0.jar" {
		t.Fatalf("resolved %v\n%s", got, out)
	}
}
