package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// nugetFixtureSpec: a V3 feed as nuget.org lays it out: the service index
// at /v3/index.json, a SemVer 2.0 registration hive (the index with its one
// page inlined, every leaf with its catalog entry) and the flat container
// (version list and .nupkg). nuget.org serves that hive gzip-encoded; here
// the files are served as they are.
var nugetFixtureSpec = formatFixtureSpec{
	scenario:   "warm-nuget",
	format:     "nuget",
	connection: "public:nuget-org",
	connPath:   "/v3/index.json",
	types:      map[string]string{"nupkg": "application/octet-stream", "nuspec": "text/xml"},
	locations: `        location / {
        }`,
	generate: func(base string) (*FormatFixture, error) {
		return generateNuGetFixture(base, "Stockpile.Bench.Package")
	},
}

// generateNuGetFixture builds package id with formatVersions versions; the
// newest has a real .nupkg (a zip with its .nuspec and a library).
func generateNuGetFixture(base, id string) (*FormatFixture, error) {
	base = strings.TrimSuffix(base, "/")
	lower := strings.ToLower(id)
	rng := fxRNG("nuget/" + lower)
	versions := fxVersions(formatVersions)
	newest := versions[len(versions)-1]
	flat := base + "/v3-flatcontainer/"
	hive := base + "/v3/registration5-semver2/"

	nuspec := []byte(fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>%s</id>
    <version>%s</version>
    <authors>Bench Maintainer</authors>
    <license type="expression">MIT</license>
    <projectUrl>https://example.com/%s</projectUrl>
    <description>A generated benchmark fixture.</description>
    <tags>bench fixture stockpile</tags>
    <dependencies>
      <group targetFramework=".NETStandard2.0">
        <dependency id="Newtonsoft.Json" version="13.0.3" exclude="Build,Analyzers" />
        <dependency id="System.Memory" version="4.5.5" exclude="Build,Analyzers" />
      </group>
    </dependencies>
  </metadata>
</package>
`, id, newest, lower))
	nupkg, err := fxZip([]archiveFile{
		{"_rels/.rels", []byte(`<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/` + id + `.nuspec" Id="R1" /></Relationships>`)},
		{id + ".nuspec", nuspec},
		{"lib/netstandard2.0/" + id + ".dll", fxRandom(rng, formatArtifactSize)},
		{"[Content_Types].xml", []byte(`<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" /><Default Extension="nuspec" ContentType="application/octet" /><Default Extension="dll" ContentType="application/octet" /></Types>`)},
	})
	if err != nil {
		return nil, fmt.Errorf("nuget fixture: %w", err)
	}
	nupkgName := func(v string) string { return lower + "." + v + ".nupkg" }
	nupkgPath := "v3-flatcontainer/" + lower + "/" + newest + "/" + nupkgName(newest)

	index := hive + lower + "/index.json"
	var leaves []map[string]any
	for i, v := range versions {
		hash := base64.StdEncoding.EncodeToString(fxSHA512([]byte(lower + "@" + v)))
		size := 250_000 + i*97
		if v == newest {
			hash, size = base64.StdEncoding.EncodeToString(fxSHA512(nupkg)), len(nupkg)
		}
		content := flat + lower + "/" + v + "/" + nupkgName(v)
		published := fxPublished(i).Format("2006-01-02T15:04:05.000+00:00")
		leaves = append(leaves, map[string]any{
			"@id": hive + lower + "/" + v + ".json", "@type": "Package",
			"commitId":        "8f1c3f5e-6b7a-4c1d-9e2f-0a1b2c3d4e5f",
			"commitTimeStamp": published,
			"catalogEntry": map[string]any{
				"@id":         base + "/v3/catalog0/data/" + fxPublished(i).Format("2006.01.02.15.04.05") + "/" + lower + "." + v + ".json",
				"@type":       "PackageDetails",
				"authors":     "Bench Maintainer",
				"description": "A generated benchmark fixture.",
				"dependencyGroups": []map[string]any{{
					"@id": index + "#dependencygroup/.netstandard2.0", "@type": "PackageDependencyGroup",
					"targetFramework": ".NETStandard2.0",
					"dependencies": []map[string]any{
						{"@id": index + "#dependencygroup/.netstandard2.0/newtonsoft.json", "@type": "PackageDependency", "id": "Newtonsoft.Json", "range": "[13.0.3, )", "registration": hive + "newtonsoft.json/index.json"},
						{"@id": index + "#dependencygroup/.netstandard2.0/system.memory", "@type": "PackageDependency", "id": "System.Memory", "range": "[4.5.5, )", "registration": hive + "system.memory/index.json"},
					},
				}},
				"iconUrl":                  "",
				"id":                       id,
				"language":                 "",
				"licenseExpression":        "MIT",
				"licenseUrl":               "https://licenses.nuget.org/MIT",
				"listed":                   true,
				"minClientVersion":         "",
				"packageContent":           content,
				"packageHash":              hash,
				"packageHashAlgorithm":     "SHA512",
				"packageSize":              size,
				"projectUrl":               "https://example.com/" + lower,
				"published":                published,
				"requireLicenseAcceptance": false,
				"summary":                  "",
				"tags":                     []string{"bench", "fixture", "stockpile"},
				"title":                    "",
				"version":                  v,
			},
			"packageContent": content,
			"registration":   index,
		})
	}
	reg, err := json.Marshal(map[string]any{
		"@id":   index,
		"@type": []string{"catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"},
		"count": 1,
		"items": []map[string]any{{
			"@id": index + "#page/" + versions[0] + "/" + newest, "@type": "catalog:CatalogPage",
			"count": len(leaves), "items": leaves, "lower": versions[0], "upper": newest, "parent": index,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("nuget fixture: %w", err)
	}
	service, err := json.Marshal(map[string]any{"version": "3.0.0", "resources": []map[string]string{
		{"@id": flat, "@type": "PackageBaseAddress/3.0.0"},
		{"@id": base + "/v3/registration5-semver1/", "@type": "RegistrationsBaseUrl"},
		{"@id": hive, "@type": "RegistrationsBaseUrl/3.6.0"},
		{"@id": base + "/query", "@type": "SearchQueryService/3.5.0"},
	}})
	if err != nil {
		return nil, fmt.Errorf("nuget fixture: %w", err)
	}
	list, err := json.Marshal(map[string]any{"versions": versions})
	if err != nil {
		return nil, fmt.Errorf("nuget fixture: %w", err)
	}
	regPath := "v3/registration5-semver2/" + lower + "/index.json"
	return &FormatFixture{
		Files: map[string][]byte{
			"v3/index.json": service,
			regPath:         reg,
			"v3-flatcontainer/" + lower + "/index.json":                          list,
			"v3-flatcontainer/" + lower + "/" + newest + "/" + lower + ".nuspec": nuspec,
			nupkgPath: nupkg,
		},
		Metadata: FixtureDoc{Pair: "registration index", NginxPath: "/" + regPath,
			StockpilePath: "/v3/registration-semver2/" + lower + "/index.json", Accept: "application/json", Body: reg, Contains: `"` + newest + `"`},
		Artifact: FixtureDoc{Pair: "nupkg", NginxPath: "/" + nupkgPath,
			StockpilePath: "/v3/flatcontainer/" + lower + "/" + newest + "/" + nupkgName(newest), Body: nupkg},
		Info: map[string]any{"id": id, "versions": len(versions), "version": newest,
			"registration_bytes": len(reg), "nupkg_bytes": len(nupkg)},
	}, nil
}
