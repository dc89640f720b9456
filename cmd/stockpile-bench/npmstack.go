package main

import "context"

// npmStack is what the npm scenarios stand on: a benchStack whose fixture is
// one generated npm package, served by nginx as the public registry does,
// and whose Stockpile (started here, or an existing one given with --target)
// has nginx as public:npmjs.
type npmStack struct {
	benchStack
	fixture *NPMFixture
}

// up generates the fixture called name for nginx's address and starts nginx
// and Stockpile. accessLog turns on nginx's access log.
func (s *npmStack) up(ctx context.Context, scenario, name string, accessLog bool) error {
	return s.benchStack.up(ctx, stackOptions{
		scenario: scenario, format: "npm", accessLog: accessLog, npm: true,
		populate: func(root, base string) error {
			f, err := GenerateNPMFixture(NPMFixtureOptions{Name: name, Upstream: base + "/"})
			if err != nil {
				return err
			}
			s.fixture = f
			return f.WriteNginxRoot(root)
		},
	})
}

// info returns what the report says about the stack and its fixture.
func (s *npmStack) info() map[string]any {
	m := s.benchStack.info()
	if s.fixture != nil {
		m["package"] = s.fixture.Name
		m["version"] = s.fixture.Version
		m["versions"] = s.fixture.Versions
		m["packument_bytes"] = len(s.fixture.Packument)
		m["tarball_bytes"] = len(s.fixture.Tarball)
	}
	return m
}
