package rubygems

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Names, versions and platforms, as Gem::Specification, Gem::Version and
// Gem::Platform define them.
//
// A version of the model is the compact index's spelling of one gem file:
// "1.0.0" for the ruby platform, "1.0.0-x86_64-linux" for a platform gem.
// rubygems.org keys a gem version by (number, platform), the compact index
// gives each pair its own line, each pair has its own .gem and yank, so each
// pair is its own version here; splitting at the first '-' is unambiguous
// because canonical gem versions contain none.

const (
	maxNameLen     = 200
	maxVersionLen  = 128
	maxPlatformLen = 64
)

var (
	// nameRE is what Stockpile reads: RubyGems' VALID_NAME_PATTERN, without a
	// leading '.', so a name is never a path element like "..".
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)
	// versionRE is a canonical Gem::Version ("1.0-1" is "1.0.pre.1").
	versionRE = regexp.MustCompile(`^[0-9]+(\.[0-9A-Za-z]+)*$`)
	// platformRE is a platform as it appears in file names and the index.
	platformRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*(-[A-Za-z0-9_.]+)*$`)
	letterRE   = regexp.MustCompile(`[A-Za-z]`)
)

// validName reports whether name can be a gem name in a URL.
func validName(name string) bool {
	return len(name) <= maxNameLen && nameRE.MatchString(name)
}

// checkPublishName applies RubyGems' specification policy and
// rubygems.org's rule that a name has a letter.
func checkPublishName(name string) error {
	switch {
	case name == "":
		return invalid("the gemspec has no name")
	case !validName(name):
		return invalid("gem name %q must be letters, digits, '.', '-' and '_', at most %d characters", name, maxNameLen)
	case strings.IndexAny(name[:1], "._-") == 0:
		return invalid("gem name %q must not begin with a period, dash or underscore", name)
	case !letterRE.MatchString(name):
		return invalid("gem name %q must contain a letter", name)
	}
	return nil
}

func validVersion(v string) bool { return len(v) <= maxVersionLen && versionRE.MatchString(v) }

func validPlatform(p string) bool { return len(p) <= maxPlatformLen && platformRE.MatchString(p) }

// versionKey is the model's version for a gem number and platform.
func versionKey(number, platform string) string {
	if platform == "" || platform == "ruby" {
		return number
	}
	return number + "-" + platform
}

// splitKey splits a model version into number and platform ("ruby" when none).
func splitKey(key string) (number, platform string) {
	if i := strings.IndexByte(key, '-'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return key, "ruby"
}

// validKey reports whether key is a canonical version with an optional platform.
func validKey(key string) bool {
	n, p := splitKey(key)
	return validVersion(n) && (p == "ruby" || validPlatform(p))
}

// fullName is RubyGems' full name of a gem file: name-version[-platform].
func fullName(name, key string) string { return name + "-" + key }

// gemFile and specFile are the asset names of a version.
func gemFile(name, key string) string  { return fullName(name, key) + ".gem" }
func specFile(name, key string) string { return fullName(name, key) + ".gemspec.rz" }

// fileCandidate is one way to read a full name.
type fileCandidate struct {
	name, key string
}

// splitFullName lists the readings of name-version[-platform]: a gem name
// may contain '-' followed by a digit ("foo-2"), so there can be several;
// the caller tries them in order. Shorter names come first.
func splitFullName(full string) []fileCandidate {
	var out []fileCandidate
	for i := 1; i < len(full)-1; i++ {
		if full[i] != '-' || full[i+1] < '0' || full[i+1] > '9' {
			continue
		}
		name, key := full[:i], full[i+1:]
		if !validName(name) || !validKey(key) {
			continue
		}
		out = append(out, fileCandidate{name: name, key: key})
	}
	return out
}

// prerelease reports whether a gem version is a pre-release: any letter.
func prerelease(number string) bool { return letterRE.MatchString(number) }

// segment is one run of a Gem::Version: a number or a string.
type segment struct {
	num   string // digits without leading zeros ("" is zero) when str is false
	str   string
	isStr bool
}

func segments(v string) []segment {
	var out []segment
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			j := i
			for j < len(v) && v[j] >= '0' && v[j] <= '9' {
				j++
			}
			out = append(out, segment{num: strings.TrimLeft(v[i:j], "0")})
			i = j
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(v) && ((v[j] >= 'a' && v[j] <= 'z') || (v[j] >= 'A' && v[j] <= 'Z')) {
				j++
			}
			out = append(out, segment{str: v[i:j], isStr: true})
			i = j
		default:
			i++
		}
	}
	return out
}

// canonical drops the trailing zeros of the numeric part and of the
// pre-release part, as Gem::Version#canonical_segments does.
func canonical(segs []segment) []segment {
	split := len(segs)
	for i, s := range segs {
		if s.isStr {
			split = i
			break
		}
	}
	trim := func(s []segment) []segment {
		for len(s) > 0 && !s[len(s)-1].isStr && s[len(s)-1].num == "" {
			s = s[:len(s)-1]
		}
		return s
	}
	num := trim(append([]segment(nil), segs[:split]...))
	return append(num, trim(append([]segment(nil), segs[split:]...))...)
}

// compareVersions orders gem version numbers as Gem::Version#<=> does:
// 1.0.a < 1.0.b < 1.0.pre.1 < 1.0 = 1.0.0 < 1.0.0.1 < 1.0.1 < 1.10.
func compareVersions(a, b string) int {
	as, bs := canonical(segments(a)), canonical(segments(b))
	n := max(len(as), len(bs))
	for i := 0; i < n; i++ {
		l, r := segment{}, segment{}
		if i < len(as) {
			l = as[i]
		}
		if i < len(bs) {
			r = bs[i]
		}
		switch {
		case l.isStr && r.isStr:
			if c := strings.Compare(l.str, r.str); c != 0 {
				return c
			}
		case l.isStr:
			return -1
		case r.isStr:
			return 1
		default:
			if len(l.num) != len(r.num) {
				if len(l.num) < len(r.num) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(l.num, r.num); c != 0 {
				return c
			}
		}
	}
	return 0
}

// compareKeys orders model versions: by number, then the ruby platform
// before the others, then by platform name.
func compareKeys(a, b string) int {
	an, ap := splitKey(a)
	bn, bp := splitKey(b)
	if c := compareVersions(an, bn); c != 0 {
		return c
	}
	if ap == bp {
		return strings.Compare(a, b)
	}
	if ap == "ruby" {
		return -1
	}
	if bp == "ruby" {
		return 1
	}
	return strings.Compare(ap, bp)
}

// platform is a Gem::Platform: cpu, os and version, each possibly empty (nil).
type platform struct {
	cpu, os, version string
}

var (
	digitRE      = regexp.MustCompile(`\d`)
	i86RE        = regexp.MustCompile(`i\d86`)
	cmdVersionRE = regexp.MustCompile(`^\d+(\.\d+)?$`)
)

// parsePlatform is Gem::Platform.new(string) of RubyGems 3.3.
func parsePlatform(s string) platform {
	arch := strings.Split(s, "-")
	if len(arch) > 2 && !digitRE.MatchString(arch[len(arch)-1]) {
		extra := arch[len(arch)-1]
		arch = arch[:len(arch)-1]
		arch[len(arch)-1] += "-" + extra
	}
	cpu := arch[0]
	arch = arch[1:]
	var p platform
	p.cpu = cpu
	if i86RE.MatchString(cpu) {
		p.cpu = "x86"
	}
	if len(arch) == 2 && cmdVersionRE.MatchString(arch[1]) {
		p.os, p.version = arch[0], arch[1]
		return p
	}
	var os string
	if len(arch) == 0 {
		p.cpu, os = "", cpu
	} else {
		os = arch[0]
	}
	p.setOS(os)
	return p
}

// osRow is one row of Gem::Platform's table of operating systems: an os
// name the pattern matches is os, and the pattern's group, when it has one,
// is the version; a row with set reads the name itself.
type osRow struct {
	re  *regexp.Regexp
	os  string
	set func(p *platform, os string, m []string)
}

// osTable is Gem::Platform's table of operating systems (RubyGems 3.3), in
// its order, so the two can be compared line by line: the first row that
// matches decides.
var osTable = []osRow{
	{re: regexp.MustCompile(`aix(\d+)?`), os: "aix"},
	{re: regexp.MustCompile(`cygwin`), os: "cygwin"},
	{re: regexp.MustCompile(`darwin(\d+)?`), os: "darwin"},
	{re: regexp.MustCompile(`^macruby$`), os: "macruby"},
	{re: regexp.MustCompile(`freebsd(\d+)?`), os: "freebsd"},
	{re: regexp.MustCompile(`hpux(\d+)?`), os: "hpux"},
	{re: regexp.MustCompile(`^(?:java|jruby)$`), os: "java"},
	{re: regexp.MustCompile(`^java([\d.]*)`), os: "java"},
	{re: regexp.MustCompile(`^dalvik(\d+)?$`), os: "dalvik"},
	{re: regexp.MustCompile(`^dotnet$`), os: "dotnet"},
	{re: regexp.MustCompile(`^dotnet([\d.]*)`), os: "dotnet"},
	{re: regexp.MustCompile(`linux-?(\w+)?`), set: setLinux},
	{re: regexp.MustCompile(`mingw32`), os: "mingw32"},
	{re: regexp.MustCompile(`mingw-?(\w+)?`), os: "mingw"},
	{re: regexp.MustCompile(`(mswin\d+)(_(\d+))?`), set: func(p *platform, _ string, m []string) {
		p.os, p.version = m[1], m[3]
		if p.cpu == "" && strings.HasSuffix(p.os, "32") {
			p.cpu = "x86"
		}
	}},
	{re: regexp.MustCompile(`netbsdelf`), os: "netbsdelf"},
	{re: regexp.MustCompile(`openbsd(\d+\.\d+)?`), os: "openbsd"},
	{re: regexp.MustCompile(`bitrig(\d+\.\d+)?`), os: "bitrig"},
	{re: regexp.MustCompile(`solaris(\d+\.\d+)?`), os: "solaris"},
	{re: regexp.MustCompile(`^(\w+_platform)(\d+)?`), set: func(p *platform, _ string, m []string) {
		p.os, p.version = m[1], m[2]
	}},
}

// setOS reads the operating system part of a platform as Gem::Platform
// does, setting os and version (and the CPU some names imply) from the first
// row of osTable that matches, or "unknown".
func (p *platform) setOS(os string) {
	for _, row := range osTable {
		m := row.re.FindStringSubmatch(os)
		switch {
		case m == nil:
			continue
		case row.set != nil:
			row.set(p, os, m)
		default:
			p.os = row.os
			if len(m) > 1 {
				p.version = m[1]
			}
		}
		return
	}
	p.os = "unknown"
}

// setLinux is Ruby's /linux-?((?!gnu)\w+)?/: the suffix is the version
// unless it starts with "gnu".
func setLinux(p *platform, os string, _ []string) {
	i := strings.Index(os, "linux")
	p.os = "linux"
	rest := os[i+len("linux"):]
	if w := wordPrefix(strings.TrimPrefix(rest, "-")); w != "" && !strings.HasPrefix(w, "gnu") {
		p.version = w
	} else if w := wordPrefix(rest); w != "" && !strings.HasPrefix(w, "gnu") {
		p.version = w
	}
}

// wordPrefix returns the leading run of \w characters of s.
func wordPrefix(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			i++
			continue
		}
		break
	}
	return s[:i]
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: rubygems: "+format, append([]any{formats.ErrInvalid}, args...)...)
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: rubygems: "+format, append([]any{formats.ErrNotFound}, args...)...)
}

// CheckName implements formats.NameChecker: a gem name as RubyGems reads it
// (validName), and no namespace.
func (f *Format) CheckName(p formats.Package) error {
	if p.Namespace != "" {
		return invalid("gems have no namespace")
	}
	if !validName(p.Name) {
		return invalid("a gem name is letters, digits, '.', '-' and '_', not starting with '.', at most %d characters", maxNameLen)
	}
	return nil
}
