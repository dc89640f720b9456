package formattest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// cargoDep is a dependency in a Cargo index line.
type cargoDep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          *string  `json:"target"`
	Kind            string   `json:"kind"`
}

// cargoLine is one line of a Cargo index file (The Cargo Book, "Registry
// index", index files).
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

// CargoRegistry lays crate name (lower case) out as crates.io serves it for
// a registry at base: a sparse index rooted at /index/ (config.json and
// the crate's file, one line per version of VersionCount) and the .crate
// files where its dl template says. The newest .crate is real (a gzipped
// tar with its Cargo.toml); the other lines carry placeholder checksums.
func CargoRegistry(base, name string) *Registry {
	base = strings.TrimSuffix(base, "/")
	versions := releases()
	newest := versions[len(versions)-1]

	toml := fmt.Sprintf("[package]\nedition = \"2021\"\nname = %q\nversion = %q\nlicense = \"MIT OR Apache-2.0\"\n\n[dependencies]\nserde = { version = \"1.0\", features = [\"derive\"] }\nlibc = \"0.2\"\n", name, newest)
	crate := Crate(name, newest,
		Text("Cargo.toml", toml),
		Text("src/lib.rs", "pub const DATA: &[u8] = include_bytes!(\"data.bin\");\n"),
		File{Name: "src/data.bin", Body: Random(RNG("cargo/"+name), ArtifactSize)},
	)
	cksum := SHA256(crate)

	var index strings.Builder
	enc := json.NewEncoder(&index)
	enc.SetEscapeHTML(false)
	for i, v := range versions {
		sum := placeholder(name + "@" + v)
		if v == newest {
			sum = cksum
		}
		must(enc.Encode(cargoLine{
			Name: name, Vers: v, Cksum: sum, V: 2, RustVersion: "1.70", Pubtime: publishedAt(i).Format("2006-01-02T15:04:05Z"),
			Deps: []cargoDep{
				{Name: "serde", Req: "^1.0", Features: []string{"derive"}, DefaultFeatures: true, Kind: "normal"},
				{Name: "libc", Req: "^0.2", Features: []string{}, DefaultFeatures: true, Kind: "normal"},
				{Name: "proptest", Req: "^1", Features: []string{}, DefaultFeatures: true, Kind: "dev"},
			},
			Features: map[string][]string{"default": {"std"}, "std": {}, "alloc": {}},
		}))
	}
	config, err := json.Marshal(map[string]string{"dl": base + "/crates/{crate}/{crate}-{version}.crate", "api": base})
	must(err)
	indexPath := CargoIndexDir(name) + "/" + name
	cratePath := "crates/" + name + "/" + name + "-" + newest + ".crate"
	doc := []byte(index.String())
	return &Registry{
		Files:    map[string][]byte{"index/config.json": config, "index/" + indexPath: doc, cratePath: crate},
		Types:    map[string]string{"json": "application/json", "crate": "application/x-tar"},
		Metadata: Doc{Pair: "index file", Path: "/index/" + indexPath, ProxyPath: "/" + indexPath, Body: doc, Contains: cksum},
		Artifact: Doc{Pair: "crate", Path: "/" + cratePath, ProxyPath: "/api/v1/crates/" + name + "/" + newest + "/download", Body: crate},
		Info: map[string]any{"crate": name, "versions": len(versions), "version": newest,
			"index_bytes": len(doc), "crate_bytes": len(crate)},
	}
}
