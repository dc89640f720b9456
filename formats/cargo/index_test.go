package cargo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestSetYanked(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		yanked     bool
		want       string
	}{
		{"already false", `{"name":"a","yanked":false,"links":null}`, false, `{"name":"a","yanked":false,"links":null}`},
		{"false to true", `{"name":"a","yanked":false,"links":null}`, true, `{"name":"a","yanked":true,"links":null}`},
		{"true to false", `{"name":"a","vers":"1.0.0","yanked":true}`, false, `{"name":"a","vers":"1.0.0","yanked":false}`},
		{"spaces kept", `{"name": "a", "yanked" : false , "v":2}`, true, `{"name": "a", "yanked" : true , "v":2}`},
		{"nested yanked is not the member", `{"x":{"yanked":false},"yanked":false}`, true, `{"x":{"yanked":false},"yanked":true}`},
		{"missing, stays missing when false", `{"name":"a"}`, false, `{"name":"a"}`},
		{"missing, added when true", `{"name":"a","req":"<2"}`, true, `{"name":"a","req":"<2","yanked":true}`},
		{"null reads as false", `{"name":"a","yanked":null}`, false, `{"name":"a","yanked":null}`},
		{"null to true", `{"name":"a","yanked":null}`, true, `{"name":"a","yanked":true}`},
		{"escapes untouched", `{"name":"a","d":"\u003c\"yanked\":false","yanked":false}`, true, `{"name":"a","d":"\u003c\"yanked\":false","yanked":true}`},
		{"empty object", `{}`, true, `{"yanked":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := setYanked([]byte(tc.line), tc.yanked)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("setYanked = %s\nwant        %s", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`[1]`, `{"a":`, `{"a":1} x`, ``} {
		if _, err := setYanked([]byte(bad), true); err == nil {
			t.Errorf("setYanked(%q) accepted", bad)
		}
	}
}

func TestParseIndex(t *testing.T) {
	const sum = "a27c66cf1ed4d46ba3da41d65cb9d46a96bb0358e8cdd8a98674a0ed5fd3dda1"
	body := strings.Join([]string{
		`{"name":"Demo-Crate","vers":"0.1.0","deps":[],"cksum":"` + sum + `","features":{},"yanked":true}`,
		``,
		`not json`,
		`{"name":"demo-crate","vers":"0.2.0","deps":[{"req":">=1, <2"}],"cksum":"` + sum + `","yanked":false}` + "\r",
		`{"name":"demo-crate","vers":"0.2.0","cksum":"` + sum + `","note":"duplicate, dropped"}`,
		`{"name":"other","vers":"0.3.0","cksum":"` + sum + `"}`,
		`{"name":"demo-crate","vers":"0.4.0","cksum":"short"}`,
		`{"name":"demo-crate","cksum":"` + sum + `"}`,
	}, "\n")
	got := parseIndex([]byte(body), "demo_crate")
	var raws []string
	for _, l := range got {
		raws = append(raws, string(l.raw))
	}
	want := []string{
		`{"name":"Demo-Crate","vers":"0.1.0","deps":[],"cksum":"` + sum + `","features":{},"yanked":true}`,
		`{"name":"demo-crate","vers":"0.2.0","deps":[{"req":">=1, <2"}],"cksum":"` + sum + `","yanked":false}`,
	}
	if diff := cmp.Diff(want, raws); diff != "" {
		t.Fatalf("parseIndex (-want +got):\n%s", diff)
	}
}

func TestMetaKeepsTheLineByteForByte(t *testing.T) {
	line := `{"name":"a","vers":"1.0.0","deps":[{"req":">=0.1, <0.2 & more"}],"x":"é\u00e9"}`
	m := versionMeta{Name: "a", Line: line}
	// The engine stores records with encoding/json, which compacts and
	// HTML-escapes raw JSON: the line must survive a round trip.
	rec, err := json.Marshal(struct {
		Meta json.RawMessage `json:"meta"`
	}{m.encode()})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Meta json.RawMessage `json:"meta"`
	}
	if err := json.Unmarshal(rec, &back); err != nil {
		t.Fatal(err)
	}
	got, ok := decodeMeta(back.Meta)
	if !ok || got.Line != line {
		t.Fatalf("line after a round trip: %q, want %q", got.Line, line)
	}
}

func TestRenderIndex(t *testing.T) {
	const sum = "a27c66cf1ed4d46ba3da41d65cb9d46a96bb0358e8cdd8a98674a0ed5fd3dda1"
	mk := func(name, vers string, yanked bool, status formats.Status) *formats.ViewVersion {
		y := "false"
		if yanked {
			y = "true"
		}
		m := versionMeta{Name: name, Line: `{"name":"` + name + `","vers":"` + vers + `","cksum":"` + sum + `","yanked":` + y + `}`}
		return &formats.ViewVersion{Version: formats.Version{Version: vers, Status: status, Meta: m.encode()}}
	}
	v := &formats.View{Versions: map[string]*formats.ViewVersion{
		"1.10.0":     mk("demo-crate", "1.10.0", false, formats.StatusPublished),
		"1.2.0":      mk("demo-crate", "1.2.0", false, formats.StatusUnlisted),
		"1.0.0":      mk("demo-crate", "1.0.0", true, formats.StatusPublished),
		"1.0.0-rc.1": mk("demo-crate", "1.0.0-rc.1", false, formats.StatusPublished),
		"0.9.0":      mk("demo-crate", "0.9.0", false, formats.StatusArchived),
		"0.8.0":      mk("demo-crate", "0.8.0", false, formats.StatusDisposed),
		"0.7.0":      mk("demo-crate", "0.7.0", false, formats.StatusUnfinished),
		"0.6.0":      mk("demo_crate", "0.6.0", false, formats.StatusPublished),
		"0.5.0":      {Version: formats.Version{Version: "0.5.0", Status: formats.StatusPublished}},
	}}
	want := strings.Join([]string{
		`{"name":"demo-crate","vers":"1.0.0-rc.1","cksum":"` + sum + `","yanked":false}`,
		`{"name":"demo-crate","vers":"1.0.0","cksum":"` + sum + `","yanked":false}`,
		`{"name":"demo-crate","vers":"1.2.0","cksum":"` + sum + `","yanked":true}`,
		`{"name":"demo-crate","vers":"1.10.0","cksum":"` + sum + `","yanked":false}`,
	}, "\n") + "\n"
	if diff := cmp.Diff(want, string(renderIndex(v, "demo-crate").Body)); diff != "" {
		t.Fatalf("index (-want +got):\n%s", diff)
	}
	if got := string(renderIndex(v, "demo_crate").Body); got != `{"name":"demo_crate","vers":"0.6.0","cksum":"`+sum+`","yanked":false}`+"\n" {
		t.Fatalf("the other spelling's index: %s", got)
	}
	if got := renderIndex(v, "nothing").Body; len(got) != 0 {
		t.Fatalf("index of a spelling without versions: %q", got)
	}
}
