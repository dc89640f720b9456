package formattest

import (
	"fmt"
	"strings"
)

// RubyGemsRegistry lays gem name out as rubygems.org serves it: its compact
// index info file (/info/{gem}, one line per version of VersionCount) and
// the .gem at /gems/. The newest .gem is real (metadata.gz, data.tar.gz
// and checksums.yaml.gz); the other lines carry placeholder checksums.
func RubyGemsRegistry(name string) *Registry {
	versions := releases()
	newest := versions[len(versions)-1]

	spec := fmt.Sprintf(`--- !ruby/object:Gem::Specification
name: %s
version: !ruby/object:Gem::Version
  version: %s
platform: ruby
authors:
- Fixture Maintainer
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
files:
- lib/%s.rb
- lib/%s/data.bin
licenses:
- MIT
require_paths:
- lib
rubygems_version: 3.5.9
specification_version: 4
summary: A generated fixture
`, name, newest, name, name)
	gem := Gem(spec,
		Text("lib/"+name+".rb", "module Fixture\n  VERSION = \""+newest+"\"\nend\n"),
		File{Name: "lib/" + name + "/data.bin", Body: Random(RNG("ruby/"+name), ArtifactSize)},
	)
	sum := SHA256(gem)

	var info strings.Builder
	info.WriteString("---\n")
	for _, v := range versions {
		c := placeholder(name + "@" + v)
		if v == newest {
			c = sum
		}
		fmt.Fprintf(&info, "%s rack:>= 2.2,json:>= 2.0&< 3|checksum:%s,ruby:>= 2.7.0\n", v, c)
	}
	doc := []byte(info.String())
	gemPath := "/gems/" + name + "-" + newest + ".gem"
	return &Registry{
		Files:    map[string][]byte{"info/" + name: doc, gemPath[1:]: gem},
		Types:    map[string]string{"gem": "application/octet-stream"},
		Metadata: Doc{Pair: "info file", Path: "/info/" + name, ProxyPath: "/info/" + name, Body: doc, Contains: "checksum:" + sum},
		Artifact: Doc{Pair: "gem", Path: gemPath, ProxyPath: gemPath, Body: gem},
		Info: map[string]any{"gem": name, "versions": len(versions), "version": newest,
			"info_bytes": len(doc), "gem_bytes": len(gem)},
	}
}
