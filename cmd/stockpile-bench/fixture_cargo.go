package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// cargoFixtureSpec: a sparse index rooted at /index/ (config.json and the
// crate's index file, one JSON line per version) and the .crate files
// where its dl template says, as crates.io's index and static host lay
// them out.
var cargoFixtureSpec = formatFixtureSpec{
	scenario:   "warm-cargo",
	format:     "cargo",
	connection: "public:crates-io",
	connPath:   "/index/",
	types:      map[string]string{"crate": "application/x-tar"},
	// Index files have no extension: text, as the sparse index serves them.
	locations: `        location /index/ {
            default_type text/plain;
        }

        location / {
        }`,
	generate: func(base string) (*FormatFixture, error) { return generateCargoFixture(base, "stockpile-bench-crate") },
}

// cargoIndexDir is the directory of a crate's index file (cargo's layout
// for lower-case names).
func cargoIndexDir(name string) string {
	switch len(name) {
	case 1:
		return "1"
	case 2:
		return "2"
	case 3:
		return "3/" + name[:1]
	}
	return name[:2] + "/" + name[2:4]
}

// cargoDep is a dependency in an index line.
type cargoDep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          *string  `json:"target"`
	Kind            string   `json:"kind"`
}

// cargoLine is one line of an index file.
type cargoLine struct {
	Name        string              `json:"name"`
	Vers        string              `json:"vers"`
	Deps        []cargoDep          `json:"deps"`
	Cksum       string              `json:"cksum"`
	Features    map[string][]string `json:"features"`
	Yanked      bool                `json:"yanked"`
	Links       *string             `json:"links"`
	V           int                 `json:"v"`
	RustVersion string              `json:"rust_version,omitempty"`
	Pubtime     string              `json:"pubtime,omitempty"`
}

// generateCargoFixture builds crate name (lower case) with formatVersions
// versions; the newest has a real .crate (a gzipped tar with Cargo.toml).
func generateCargoFixture(base, name string) (*FormatFixture, error) {
	base = strings.TrimSuffix(base, "/")
	rng := fxRNG("cargo/" + name)
	versions := fxVersions(formatVersions)
	newest := versions[len(versions)-1]

	pkg := name + "-" + newest
	toml := fmt.Sprintf("[package]\nedition = \"2021\"\nname = %q\nversion = %q\ndescription = \"A generated benchmark fixture\"\nlicense = \"MIT OR Apache-2.0\"\nrust-version = \"1.70\"\n\n[dependencies]\nserde = { version = \"1.0\", features = [\"derive\"] }\nlibc = \"0.2\"\n", name, newest)
	crate, err := fxTar([]archiveFile{
		{pkg + "/Cargo.toml", []byte(toml)},
		{pkg + "/Cargo.toml.orig", []byte(toml)},
		{pkg + "/src/lib.rs", []byte("//! A generated benchmark fixture.\npub const DATA: &[u8] = include_bytes!(\"data.bin\");\n")},
		{pkg + "/src/data.bin", fxRandom(rng, formatArtifactSize)},
		{pkg + "/README.md", []byte("# " + name + "\n\nA generated crate for benchmarking.\n")},
	}, true)
	if err != nil {
		return nil, fmt.Errorf("cargo fixture: %w", err)
	}
	cksum := fxSHA256(crate)

	var index strings.Builder
	enc := json.NewEncoder(&index)
	enc.SetEscapeHTML(false)
	for i, v := range versions {
		sum := fxPlaceholder(name + "@" + v)
		if v == newest {
			sum = cksum
		}
		l := cargoLine{
			Name: name, Vers: v, Cksum: sum, V: 2, RustVersion: "1.70",
			Deps: []cargoDep{
				{Name: "serde", Req: "^1.0", Features: []string{"derive"}, DefaultFeatures: true, Kind: "normal"},
				{Name: "libc", Req: "^0.2", Features: []string{}, DefaultFeatures: true, Kind: "normal"},
				{Name: "proptest", Req: "^1", Features: []string{}, DefaultFeatures: true, Kind: "dev"},
			},
			Features: map[string][]string{"default": {"std"}, "std": {}, "alloc": {}},
			Pubtime:  fxPublished(i).Format("2006-01-02T15:04:05Z"),
		}
		if err := enc.Encode(l); err != nil {
			return nil, fmt.Errorf("cargo fixture: %w", err)
		}
	}
	config, err := json.Marshal(map[string]any{
		"dl":  base + "/crates/{crate}/{crate}-{version}.crate",
		"api": base,
	})
	if err != nil {
		return nil, fmt.Errorf("cargo fixture: %w", err)
	}
	indexPath := cargoIndexDir(name) + "/" + name
	cratePath := "crates/" + name + "/" + name + "-" + newest + ".crate"
	doc := []byte(index.String())
	return &FormatFixture{
		Files: map[string][]byte{
			"index/config.json":  config,
			"index/" + indexPath: doc,
			cratePath:            crate,
		},
		Metadata: FixtureDoc{Pair: "index file", NginxPath: "/index/" + indexPath, StockpilePath: "/" + indexPath, Body: doc, Contains: cksum},
		Artifact: FixtureDoc{Pair: "crate", NginxPath: "/" + cratePath, StockpilePath: "/api/v1/crates/" + name + "/" + newest + "/download", Body: crate},
		Info: map[string]any{"crate": name, "versions": len(versions), "version": newest,
			"index_bytes": len(doc), "crate_bytes": len(crate)},
	}, nil
}
