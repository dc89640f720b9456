package cargo_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

func TestDownloadsFollowTheUpstreamDLTemplate(t *testing.T) {
	for _, style := range []string{styleMarkers, styleCratesIO, styleChecksum} {
		t.Run(style, func(t *testing.T) {
			reg := newRegistry(t, style)
			reg.standard(t)
			in := stockpile(t, reg, upstream.Options{}, nil)
			base := in.URL + "/acme/cargo/app/api/v1/crates/"
			for _, id := range []string{"a@0.1.0", "bb@0.1.0", "c_d@0.1.0", "long-crate-name@1.1.0", "long-crate-name@1.2.0", "Mixed_Case@0.1.0"} {
				name, version, _ := strings.Cut(id, "@")
				c := fixture(t, name, version)
				for range 2 {
					res := get(t, base+name+"/"+version+"/download")
					if res.Code != 200 || res.Body != string(c.bytes) {
						t.Fatalf("%s: %d (%d bytes), want the fixture's %d bytes", id, res.Code, len(res.Body), len(c.bytes))
					}
					sum := sha256.Sum256([]byte(res.Body))
					if hex.EncodeToString(sum[:]) != c.sha256 {
						t.Fatalf("%s: checksum differs from the index line's cksum", id)
					}
					if ce := res.Header.Get("Content-Encoding"); ce != "" {
						t.Fatalf("%s: Content-Encoding %q on a .crate", id, ce)
					}
				}
				if n := reg.DL.Hits(reg.dlPath(c)); n != 1 {
					t.Errorf("%s: %d upstream downloads, want 1", id, n)
				}
				if got := held(t, in, name, version, "app", "team", "cargo-store", "internal"); !cmp.Equal(got, []string{"app", "cargo-store"}) {
					t.Errorf("%s is held by %v, want app and cargo-store", id, got)
				}
			}
			// The name in a download URL is the index line's; a client
			// spelling it otherwise gets the same file.
			if res := get(t, base+"LONG_Crate-Name/1.1.0/download"); res.Code != 200 || res.Body != string(fixture(t, "long-crate-name", "1.1.0").bytes) {
				t.Fatalf("download under another spelling: %d", res.Code)
			}
			for _, tc := range []struct{ name, path string }{
				{"unknown version", "a/9.9.9/download"},
				{"unknown crate", "nonexistent/0.1.0/download"},
				{"not a crate name", "a.b/0.1.0/download"},
			} {
				if res := get(t, base+tc.path); res.Code != 404 || !strings.HasPrefix(res.Body, `{"errors":[{"detail":`) {
					t.Errorf("%s: %d %s, want a cargo-shaped 404", tc.name, res.Code, res.Body)
				}
			}
		})
	}
}

func TestDownloadsAreVerifiedAgainstTheIndexChecksum(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	in := stockpile(t, reg, upstream.Options{Retries: 1}, nil)
	base := in.URL + "/acme/cargo/app/api/v1/crates/"

	t.Run("corrupted in transit", func(t *testing.T) {
		c := fixture(t, "bb", "0.1.0")
		reg.DL.Fault(reg.dlPath(c), upstreamtest.Fault{Corrupt: true})
		if res := get(t, base+"bb/0.1.0/download"); res.Code != 502 {
			t.Fatalf("corrupted .crate: %d, want 502", res.Code)
		}
		if got := held(t, in, "bb", "0.1.0", "app", "cargo-store"); len(got) != 0 {
			t.Fatalf("a .crate that failed verification is held by %v", got)
		}
		reg.DL.ClearFaults()
		if res := get(t, base+"bb/0.1.0/download"); res.Code != 200 || res.Body != string(c.bytes) {
			t.Fatalf("after the fault: %d", res.Code)
		}
	})
	t.Run("index line with another checksum", func(t *testing.T) {
		c := fixture(t, "c_d", "0.1.0")
		wrong := *c
		wrong.sha256 = strings.Repeat("0", 64)
		reg.replace("c_d", line(&wrong, false))
		if res := get(t, base+"c_d/0.1.0/download"); res.Code != 502 || !strings.Contains(res.Body, "sha256") {
			t.Fatalf("checksum mismatch: %d %s, want 502", res.Code, res.Body)
		}
		if got := held(t, in, "c_d", "0.1.0", "app", "cargo-store"); len(got) != 0 {
			t.Fatalf("a .crate with the wrong checksum is held by %v", got)
		}
	})
	t.Run("yanked versions stay downloadable", func(t *testing.T) {
		c := fixture(t, "long-crate-name", "1.2.0")
		if res := get(t, base+"long-crate-name/1.2.0/download"); res.Code != 200 || res.Body != string(c.bytes) {
			t.Fatalf("yanked .crate: %d", res.Code)
		}
		// Retained with its status: the index still shows it yanked.
		idx := get(t, in.URL+"/acme/cargo/app/lo/ng/long-crate-name")
		if !strings.Contains(idx.Body, `"vers":"1.2.0","deps":[{"name":"c_d"`) || !strings.Contains(idx.Body, `"yanked": true`) {
			t.Fatalf("index after retaining a yanked version:\n%s", idx.Body)
		}
	})
}

func TestIndexMergeAcrossRepositories(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	in := stockpile(t, reg, upstream.Options{TTL: time.Millisecond}, nil)
	app := in.URL + "/acme/cargo/app/"

	// 1.0.0 is downloaded, hence retained in app and cargo-store.
	if res := get(t, app+"api/v1/crates/long-crate-name/1.0.0/download"); res.Code != 200 {
		t.Fatalf("download: %d", res.Code)
	}
	v100 := line(fixture(t, "long-crate-name", "1.0.0"), false)
	v110 := line(fixture(t, "long-crate-name", "1.1.0"), false)
	v120 := line(fixture(t, "long-crate-name", "1.2.0"), true)
	// The upstream drops 1.0.0 and changes nothing else; a new 1.3.0
	// appears.
	v130 := strings.Replace(v110, `"vers":"1.1.0"`, `"vers":"1.3.0"`, 1)
	reg.replace("long-crate-name", v110, v120, v130)
	in.Clock.Advance(5 * time.Millisecond)

	res := get(t, app+"lo/ng/long-crate-name")
	want := strings.Join([]string{v100, v110, v120, v130}, "\n") + "\n"
	if diff := cmp.Diff(want, res.Body); diff != "" {
		t.Fatalf("merged index (-want +got):\n%s", diff)
	}
	// team does not reach app's copy, only cargo-store's.
	res = get(t, in.URL+"/acme/cargo/team/lo/ng/long-crate-name")
	if diff := cmp.Diff(want, res.Body); diff != "" {
		t.Fatalf("team's index (-want +got):\n%s", diff)
	}
	// internal reaches nothing.
	if res := get(t, in.URL+"/acme/cargo/internal/lo/ng/long-crate-name"); res.Code != 404 {
		t.Fatalf("internal: %d", res.Code)
	}
}

func TestStaleOnErrorAndOfflineServing(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	in := stockpile(t, reg, upstream.Options{TTL: time.Millisecond, Retries: 1}, nil)
	app := in.URL + "/acme/cargo/app/"
	warmIndex := get(t, app+"lo/ng/long-crate-name")
	if warmIndex.Code != 200 {
		t.Fatalf("warm-up: %d", warmIndex.Code)
	}
	if res := get(t, app+"api/v1/crates/long-crate-name/1.1.0/download"); res.Code != 200 {
		t.Fatalf("warm-up download: %d", res.Code)
	}

	t.Run("upstream failing", func(t *testing.T) {
		reg.Index.Fault("*", upstreamtest.Fault{Status: 500})
		defer reg.Index.ClearFaults()
		in.Clock.Advance(5 * time.Millisecond)
		if res := get(t, app+"lo/ng/long-crate-name"); res.Code != 200 || res.Body != warmIndex.Body {
			t.Fatalf("stale index: %d %s", res.Code, res.Body)
		}
		// Never asked before and the upstream failing: an error, never 404.
		if res := get(t, app+"2/bb"); res.Code != 502 {
			t.Fatalf("uncached index file with the upstream failing: %d %s, want 502", res.Code, res.Body)
		}
	})
	t.Run("upstream gone, server restarted", func(t *testing.T) {
		reg.Index.Close()
		reg.DL.Close()
		in.Restart()
		app := in.URL + "/acme/cargo/app/"
		if res := get(t, app+"lo/ng/long-crate-name"); res.Code != 200 || res.Body != warmIndex.Body {
			t.Fatalf("offline index: %d %s", res.Code, res.Body)
		}
		if res := get(t, app+"api/v1/crates/long-crate-name/1.1.0/download"); res.Code != 200 || res.Body != string(fixture(t, "long-crate-name", "1.1.0").bytes) {
			t.Fatalf("offline download: %d", res.Code)
		}
		if res := get(t, app+"api/v1/crates/long-crate-name/1.0.0/download"); res.Code != 502 {
			t.Fatalf("never downloaded .crate, upstream gone: %d %s, want 502", res.Code, res.Body)
		}
		if res := get(t, app+"3/c/c_d"); res.Code != 502 {
			t.Fatalf("never asked index file, upstream gone: %d %s, want 502", res.Code, res.Body)
		}
	})
}

func TestIndexRevalidation(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	// Lines long enough for the engine to keep a gzip copy.
	long := fixture(t, "long-crate-name", "1.1.0")
	var lines []string
	for i := range 12 {
		lines = append(lines, strings.Replace(line(long, false), `"vers":"1.1.0"`, `"vers":"1.1.`+string(rune('a'+i))+`"`, 1))
	}
	reg.replace("long-crate-name", append(lines, line(long, false))...)
	in := stockpile(t, reg, upstream.Options{}, nil)
	url := in.URL + "/acme/cargo/app/lo/ng/long-crate-name"

	first := get(t, url)
	etag := first.Header.Get("ETag")
	if first.Code != 200 || etag == "" || len(first.Body) < 1024 {
		t.Fatalf("first: %d %q (%d bytes)", first.Code, etag, len(first.Body))
	}
	if n := reg.Index.Hits("/lo/ng/long-crate-name"); n != 1 {
		t.Fatalf("upstream hits %d", n)
	}
	for _, tc := range []struct {
		name   string
		header []string
		code   int
		enc    string
	}{
		{"revalidation", []string{"If-None-Match", etag}, 304, ""},
		{"weak form", []string{"If-None-Match", "W/" + etag}, 304, ""},
		{"other etag", []string{"If-None-Match", `"nope"`}, 200, ""},
		{"gzip", []string{"Accept-Encoding", "deflate, gzip"}, 200, "gzip"},
		{"gzip revalidation with the plain etag", []string{"Accept-Encoding", "gzip", "If-None-Match", etag}, 304, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, url, tc.header...)
			if res.Code != tc.code || res.Header.Get("Content-Encoding") != tc.enc {
				t.Fatalf("%d %q, want %d %q", res.Code, res.Header.Get("Content-Encoding"), tc.code, tc.enc)
			}
			if tc.code == 304 && res.Header.Get("ETag") == "" {
				t.Fatal("304 without ETag")
			}
			if tc.enc == "gzip" {
				if res.Header.Get("Vary") != "Accept-Encoding" || res.Header.Get("ETag") == etag {
					t.Fatalf("gzip answer: Vary %q ETag %q", res.Header.Get("Vary"), res.Header.Get("ETag"))
				}
				gz := get(t, url, "Accept-Encoding", "gzip", "If-None-Match", res.Header.Get("ETag"))
				if gz.Code != 304 {
					t.Fatalf("revalidating the gzip etag: %d", gz.Code)
				}
			}
		})
	}
	if res := do(t, "HEAD", url, nil); res.Code != 200 || res.Body != "" || res.Header.Get("Content-Length") != first.Header.Get("Content-Length") {
		t.Fatalf("HEAD: %d %q %s", res.Code, res.Header.Get("Content-Length"), res.Body)
	}
	// Warm revalidations are answered from the rendered copy.
	if n := reg.Index.Hits("/lo/ng/long-crate-name"); n != 1 {
		t.Fatalf("upstream hits after revalidations: %d, want 1", n)
	}
}
