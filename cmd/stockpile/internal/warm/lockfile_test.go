package warm

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func names(arts []Artifact) string {
	var s []string
	for _, a := range arts {
		x := a.String()
		for _, d := range a.Digests {
			x += " " + d.Algo
		}
		s = append(s, x)
	}
	return strings.Join(s, "; ")
}

func TestParse(t *testing.T) {
	const sha512 = "sha512-" + "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
	tests := []struct {
		name, path, body string
		want             string
		wantErr          string
	}{
		{name: "package-lock v3", path: "app/package-lock.json", body: `{"lockfileVersion":3,"packages":{
			"":{"name":"app","version":"1.0.0"},
			"node_modules/a":{"version":"1.0.0","resolved":"http://r.invalid/a/-/a-1.0.0.tgz","integrity":"` + sha512 + `"},
			"node_modules/@s/b":{"version":"2.0.0","resolved":"http://r.invalid/@s/b/-/b-2.0.0.tgz"},
			"node_modules/a/node_modules/c":{"version":"3.0.0","resolved":"http://r.invalid/c/-/c-3.0.0.tgz"},
			"node_modules/alias":{"name":"c","version":"3.0.0","resolved":"http://r.invalid/c/-/c-3.0.0.tgz"},
			"node_modules/linked":{"resolved":"../linked","link":true},
			"node_modules/g":{"version":"1.0.0","resolved":"git+ssh://git@example.invalid/g.git#abc"},
			"node_modules/bundled":{"version":"1.0.0","inBundle":true}}}`,
			want: "npm @s/b@2.0.0; npm a@1.0.0 sha512; npm c@3.0.0"},
		{name: "package-lock v1 nests dependencies", path: "npm-shrinkwrap.json", body: `{"lockfileVersion":1,"dependencies":{
			"a":{"version":"1.0.0","resolved":"http://r.invalid/a/-/a-1.0.0.tgz","integrity":"sha1-3Cg9Tgz8Jhv2Rwg2xqEHjC/tfpI=","dependencies":{
				"c":{"version":"3.0.0","resolved":"http://r.invalid/c/-/c-3.0.0.tgz"}}}}}`,
			want: "npm a@1.0.0 sha1; npm c@3.0.0"},
		{name: "requirements with hashes, extras, markers and continuations", path: "requirements.txt", body: "# pip-compile\n--index-url http://x.invalid/simple\n" +
			"certifi==2024.2.2 \\\n    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f \\\n    --hash=sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1\n" +
			"requests[socks]==2.31.0 ; python_version >= \"3.8\"  # via app\nurllib3===2.2.1\n",
			want: "pypi certifi@2024.2.2 sha256 sha256; pypi requests@2.31.0; pypi urllib3@2.2.1"},
		{name: "an unpinned requirement", path: "requirements-dev.txt", body: "requests>=2\n", wantErr: `line 1: "requests>=2" is not pinned`},
		{name: "Cargo.lock", path: "Cargo.lock", body: "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n" +
			"[[package]]\nname = \"serde\"\nversion = \"1.0.197\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"3fb1c873e1b9b056a4dc4c0c198b24c3ffa059243875552b2bd0933b1aee4ce2\"\n\n" +
			"[[package]]\nname = \"g\"\nversion = \"0.1.0\"\nsource = \"git+https://example.invalid/g#abc\"\n",
			want: "cargo serde@1.0.197 sha256"},
		{name: "Gemfile.lock with platforms and checksums", path: "Gemfile.lock", body: "GIT\n  remote: https://example.invalid/g.git\n  specs:\n    g (1.0)\n\n" +
			"GEM\n  remote: https://gems.invalid/\n  specs:\n    nokogiri (1.16.2-x86_64-linux)\n      racc (~> 1.4)\n    racc (1.7.3)\n    rake (13.1.0)\n\nPLATFORMS\n  ruby\n\n" +
			"CHECKSUMS\n  rake (13.1.0) sha256=1b69a6d2dd7a7a0ac0dcd0b5dbd5e2ad0e6a2c11ddab2d7d4d6b8e0a6d0a35c9\n\nBUNDLED WITH\n   2.5.6\n",
			want: "ruby nokogiri@1.16.2-x86_64-linux; ruby racc@1.7.3; ruby rake@13.1.0 sha256"},
		{name: "not a lockfile", path: "go.sum", body: "x", wantErr: "not a lockfile warm reads"},
		{name: "a broken package lock", path: "package-lock.json", body: "{", wantErr: "not a package lock"},
		{name: "a broken Cargo.lock", path: "Cargo.lock", body: "[[package]\n", wantErr: "not a Cargo.lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arts, err := Parse(tt.path, []byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(arts); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			for _, a := range arts {
				if a.From != tt.path {
					t.Errorf("%s from %q", a, a.From)
				}
			}
		})
	}
}

func TestPypiFileOf(t *testing.T) {
	tests := []struct {
		file, name, version string
		want                bool
	}{
		{"requests-2.31.0-py3-none-any.whl", "requests", "2.31.0", true},
		{"requests-2.31.0.tar.gz", "Requests", "2.31.0", true},
		{"zope.interface-6.2-cp311-cp311-manylinux_2_17_x86_64.whl", "zope-interface", "6.2", true},
		{"requests-2.31.1.tar.gz", "requests", "2.31.0", false},
		{"requests_oauthlib-1.0-py3-none-any.whl", "requests", "1.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if got := pypiFileOf(tt.file, tt.name, tt.version); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestProgress(t *testing.T) {
	a := Artifact{Format: "npm", Name: "a", Version: "1.0.0"}
	t.Run("a bar redraws in place, at most every interval", func(t *testing.T) {
		var buf bytes.Buffer
		clock := &fakeClock{t: time.Unix(0, 0), step: 40 * time.Millisecond}
		b := &Bar{W: &buf, Now: clock.Now, Every: 100 * time.Millisecond}
		b.Start(4)
		for i := 0; i < 4; i++ {
			r := Result{Artifact: a}
			if i == 1 {
				r.Err = ErrNotFound
			}
			b.Done(r)
		}
		b.Finish(Summary{})
		out := buf.String()
		if !strings.HasPrefix(out, "\r[                              ] 0/4") || !strings.HasSuffix(out, "\r[##############################] 4/4, 1 failed\n") {
			t.Errorf("bar: %q", out)
		}
		if n := strings.Count(out, "\r"); n < 2 || n > 4 {
			t.Errorf("%d redraws for 4 results at 40ms each with a 100ms interval: %q", n, out)
		}
	})
	t.Run("lines every interval and one per failure", func(t *testing.T) {
		var buf bytes.Buffer
		clock := &fakeClock{t: time.Unix(0, 0), step: 4 * time.Second}
		l := &Lines{W: &buf, Now: clock.Now, Every: 10 * time.Second}
		l.Start(5)
		for i := 0; i < 5; i++ {
			r := Result{Artifact: a}
			if i == 2 {
				r.Err = ErrNotFound
			}
			l.Done(r)
		}
		l.Finish(Summary{})
		want := "warm: 5 artifacts to fetch\nwarm: npm a@1.0.0 failed: not found\nwarm: 3/5 done, 1 failed\nwarm: 5/5 done, 1 failed\n"
		if buf.String() != want {
			t.Errorf("got %q\nwant %q", buf.String(), want)
		}
	})
}
