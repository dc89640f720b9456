package main

import (
	"fmt"
	"strings"
)

// rubyFixtureSpec: a gem as rubygems.org serves it: its compact index
// info file (/info/{gem}) and the .gem files at /gems/.
var rubyFixtureSpec = formatFixtureSpec{
	scenario:   "warm-ruby",
	format:     "ruby",
	connection: "public:ruby-gems-org",
	connPath:   "/",
	types:      map[string]string{"gem": "application/octet-stream"},
	// Info files have no extension: text, as rubygems.org serves them.
	locations: `        location /info/ {
            default_type "text/plain; charset=utf-8";
        }

        location / {
        }`,
	generate: func(base string) (*FormatFixture, error) { return generateRubyFixture(base, "stockpile_bench_gem") },
}

// generateRubyFixture builds gem name with formatVersions versions; the
// newest has a real .gem (a tar of metadata.gz, data.tar.gz and
// checksums.yaml.gz).
func generateRubyFixture(base, name string) (*FormatFixture, error) {
	rng := fxRNG("ruby/" + name)
	versions := fxVersions(formatVersions)
	newest := versions[len(versions)-1]

	spec := fmt.Sprintf(`--- !ruby/object:Gem::Specification
name: %s
version: !ruby/object:Gem::Version
  version: %s
platform: ruby
authors:
- Bench Maintainer
bindir: bin
date: 2024-03-02 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: rack
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '2.2'
  type: :runtime
  prerelease: false
description: A generated benchmark fixture.
email: maintainer@example.com
files:
- lib/%s.rb
- lib/%s/data.bin
homepage: https://example.com/%s
licenses:
- MIT
require_paths:
- lib
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: 2.7.0
rubygems_version: 3.5.9
specification_version: 4
summary: A generated benchmark fixture
`, name, newest, name, name, name)
	data, err := fxTar([]archiveFile{
		{"lib/" + name + ".rb", []byte("module " + strings.ToUpper(name[:1]) + name[1:] + "\n  VERSION = \"" + newest + "\"\nend\n")},
		{"lib/" + name + "/data.bin", fxRandom(rng, formatArtifactSize)},
	}, true)
	if err != nil {
		return nil, fmt.Errorf("ruby fixture: %w", err)
	}
	metadata := fxGzip([]byte(spec))
	checksums := fxGzip([]byte(fmt.Sprintf("---\nSHA256:\n  metadata.gz: %s\n  data.tar.gz: %s\n", fxSHA256(metadata), fxSHA256(data))))
	gem, err := fxTar([]archiveFile{{"metadata.gz", metadata}, {"data.tar.gz", data}, {"checksums.yaml.gz", checksums}}, false)
	if err != nil {
		return nil, fmt.Errorf("ruby fixture: %w", err)
	}
	sum := fxSHA256(gem)

	var info strings.Builder
	info.WriteString("---\n")
	for _, v := range versions {
		c := fxPlaceholder(name + "@" + v)
		if v == newest {
			c = sum
		}
		fmt.Fprintf(&info, "%s rack:>= 2.2,json:>= 2.0&< 3|checksum:%s,ruby:>= 2.7.0\n", v, c)
	}
	doc := []byte(info.String())
	gemFile := name + "-" + newest + ".gem"
	return &FormatFixture{
		Files: map[string][]byte{"info/" + name: doc, "gems/" + gemFile: gem},
		Metadata: FixtureDoc{Pair: "info file", NginxPath: "/info/" + name, StockpilePath: "/info/" + name, Body: doc,
			Contains: "checksum:" + sum},
		Artifact: FixtureDoc{Pair: "gem", NginxPath: "/gems/" + gemFile, StockpilePath: "/gems/" + gemFile, Body: gem},
		Info: map[string]any{"gem": name, "versions": len(versions), "version": newest,
			"info_bytes": len(doc), "gem_bytes": len(gem)},
	}, nil
}
