package formattest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// NuGetServiceIndex is a V3 service index of a feed at base as nuget.org
// publishes one: the flat container at /v3-flatcontainer/, a SemVer 1.0
// registration hive, the SemVer 2.0 hive at hive, search, then extra
// resources.
func NuGetServiceIndex(base, hive string, extra ...map[string]string) []byte {
	doc, err := json.Marshal(map[string]any{"version": "3.0.0", "resources": append([]map[string]string{
		{"@id": base + "/v3-flatcontainer/", "@type": "PackageBaseAddress/3.0.0"},
		{"@id": base + "/v3/registration5-semver1/", "@type": "RegistrationsBaseUrl"},
		{"@id": hive, "@type": "RegistrationsBaseUrl/3.6.0"},
		{"@id": base + "/query", "@type": "SearchQueryService/3.5.0"},
	}, extra...)})
	must(err)
	return doc
}

// NuGetRegistry lays package id out as nuget.org serves it for a feed at
// base: the service index at /v3/index.json, a SemVer 2.0 registration hive
// (the index with its one page inlined, each of VersionCount leaves with
// its catalog entry) and the flat container (version list, nuspec and
// .nupkg). The newest .nupkg is real (its nuspec and a library); the other
// leaves carry placeholder hashes. nuget.org serves the hive gzip-encoded;
// here it is plain.
func NuGetRegistry(base, id string) *Registry {
	base = strings.TrimSuffix(base, "/")
	lower := strings.ToLower(id)
	versions := releases()
	newest := versions[len(versions)-1]
	hive := base + "/v3/registration5-semver2/"
	index := hive + lower + "/index.json"

	nuspec := fmt.Appendf(nil, `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>%s</id>
    <version>%s</version>
    <authors>Fixture Maintainer</authors>
    <license type="expression">MIT</license>
    <description>A generated fixture.</description>
    <dependencies>
      <group targetFramework=".NETStandard2.0">
        <dependency id="Newtonsoft.Json" version="13.0.3" exclude="Build,Analyzers" />
      </group>
    </dependencies>
  </metadata>
</package>
`, id, newest)
	nupkg := Nupkg(id, nuspec, File{Name: "lib/netstandard2.0/" + id + ".dll", Body: Random(RNG("nuget/"+lower), ArtifactSize)})
	nupkgPath := func(v string) string { return "v3-flatcontainer/" + lower + "/" + v + "/" + lower + "." + v + ".nupkg" }

	var leaves []map[string]any
	for i, v := range versions {
		hash, size := base64.StdEncoding.EncodeToString(SHA512([]byte(lower+"@"+v))), 250_000+i*97
		if v == newest {
			hash, size = base64.StdEncoding.EncodeToString(SHA512(nupkg)), len(nupkg)
		}
		content, published := base+"/"+nupkgPath(v), publishedAt(i).Format("2006-01-02T15:04:05.000+00:00")
		group := index + "#dependencygroup/.netstandard2.0"
		leaves = append(leaves, map[string]any{
			"@id": hive + lower + "/" + v + ".json", "@type": "Package", "commitTimeStamp": published,
			"catalogEntry": map[string]any{
				"@id":   base + "/v3/catalog0/data/" + publishedAt(i).Format("2006.01.02.15.04.05") + "/" + lower + "." + v + ".json",
				"@type": "PackageDetails", "authors": "Fixture Maintainer", "description": "A generated fixture.",
				"dependencyGroups": []map[string]any{{"@id": group, "@type": "PackageDependencyGroup", "targetFramework": ".NETStandard2.0",
					"dependencies": []map[string]any{{"@id": group + "/newtonsoft.json", "@type": "PackageDependency",
						"id": "Newtonsoft.Json", "range": "[13.0.3, )", "registration": hive + "newtonsoft.json/index.json"}}}},
				"id": id, "version": v, "listed": true, "published": published, "licenseExpression": "MIT",
				"packageContent": content, "packageHash": hash, "packageHashAlgorithm": "SHA512", "packageSize": size,
				"projectUrl": "https://example.com/" + lower, "tags": []string{"fixture", "stockpile"},
			},
			"packageContent": content, "registration": index,
		})
	}
	reg, err := json.Marshal(map[string]any{
		"@id": index, "@type": []string{"catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"}, "count": 1,
		"items": []map[string]any{{"@id": index + "#page/" + versions[0] + "/" + newest, "@type": "catalog:CatalogPage",
			"count": len(leaves), "items": leaves, "lower": versions[0], "upper": newest, "parent": index}},
	})
	must(err)
	list, err := json.Marshal(map[string]any{"versions": versions})
	must(err)
	regPath := strings.TrimPrefix(index, base)
	return &Registry{
		Files: map[string][]byte{
			"v3/index.json": NuGetServiceIndex(base, hive),
			regPath[1:]:     reg,
			"v3-flatcontainer/" + lower + "/index.json":                          list,
			"v3-flatcontainer/" + lower + "/" + newest + "/" + lower + ".nuspec": nuspec,
			nupkgPath(newest): nupkg,
		},
		Types: map[string]string{"json": "application/json", "nupkg": "application/octet-stream", "nuspec": "text/xml"},
		Metadata: Doc{Pair: "registration index", Path: regPath, ProxyPath: "/v3/registration-semver2/" + lower + "/index.json",
			Accept: "application/json", Body: reg, Contains: `"` + newest + `"`},
		Artifact: Doc{Pair: "nupkg", Path: "/" + nupkgPath(newest), ProxyPath: "/v3/flatcontainer/" + strings.TrimPrefix(nupkgPath(newest), "v3-flatcontainer/"), Body: nupkg},
		Info: map[string]any{"id": id, "versions": len(versions), "version": newest,
			"registration_bytes": len(reg), "nupkg_bytes": len(nupkg)},
	}
}
