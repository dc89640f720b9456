package pypi

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Bounds on names read from clients and upstream pages.
const (
	maxNameLen     = 256
	maxFilenameLen = 512
)

// normalizeName returns the PEP 503 canonical form of a project name: lower
// case, every run of '-', '_' and '.' replaced by a single '-'.
func normalizeName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// validName reports whether name is a valid project name (PEP 508: ASCII
// letters and digits, with '-', '_' and '.' inside, not at either end).
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if alnum {
			continue
		}
		if (c == '-' || c == '_' || c == '.') && i > 0 && i < len(name)-1 {
			continue
		}
		return false
	}
	return true
}

// projectFromParam reads a project name from a URL path segment.
func projectFromParam(raw string) (string, error) {
	name, err := url.PathUnescape(raw)
	if err != nil || !validName(name) {
		return "", fmt.Errorf("%w: %.100q is not a valid project name", formats.ErrInvalid, raw)
	}
	return name, nil
}

// pkg returns the package a normalized project name designates.
func pkg(project string) formats.Package {
	return formats.Package{Format: "pypi", Name: project}
}

// Distribution kinds, as the upload form's filetype names them.
const (
	kindWheel = "bdist_wheel"
	kindSdist = "sdist"
	kindEgg   = "bdist_egg"
)

// sdistExts are the archive suffixes of source distributions, longest first.
var sdistExts = []string{".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"}

// distFile is what a distribution's file name tells.
type distFile struct {
	Name      string // the name part as written (not normalized)
	Version   string // the version part as written
	Kind      string // kindWheel, kindSdist or kindEgg
	PyVersion string // wheels: the python tag; sdists: "source"
}

// parseFilename splits a distribution file name into project name and
// version. project, when not empty, is the normalized project the file is
// expected to belong to: it disambiguates legacy source distributions whose
// names contain dashes ("foo-bar-1.0.tar.gz").
func parseFilename(filename, project string) (distFile, error) {
	if filename == "" || len(filename) > maxFilenameLen || !utf8.ValidString(filename) ||
		strings.ContainsAny(filename, "/\\\x00") || filename == "." || filename == ".." {
		return distFile{}, fmt.Errorf("%.100q is not a valid file name", filename)
	}
	if stem, ok := strings.CutSuffix(filename, ".whl"); ok {
		// {name}-{ver}(-{build})?-{python}-{abi}-{platform}.whl
		parts := strings.Split(stem, "-")
		if len(parts) != 5 && len(parts) != 6 {
			return distFile{}, fmt.Errorf("%.100q is not a wheel file name", filename)
		}
		if parts[0] == "" || parts[1] == "" {
			return distFile{}, fmt.Errorf("%.100q is not a wheel file name", filename)
		}
		return distFile{Name: parts[0], Version: parts[1], Kind: kindWheel, PyVersion: parts[len(parts)-3]}, nil
	}
	if stem, ok := strings.CutSuffix(filename, ".egg"); ok {
		parts := strings.Split(stem, "-")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return distFile{}, fmt.Errorf("%.100q is not an egg file name", filename)
		}
		py := ""
		if len(parts) > 2 {
			py = strings.TrimPrefix(parts[2], "py")
		}
		return distFile{Name: parts[0], Version: parts[1], Kind: kindEgg, PyVersion: py}, nil
	}
	lower := strings.ToLower(filename)
	for _, ext := range sdistExts {
		if !strings.HasSuffix(lower, ext) {
			continue
		}
		stem := filename[:len(filename)-len(ext)]
		if project != "" {
			for i := 0; i < len(stem); i++ {
				if stem[i] == '-' && i+1 < len(stem) && normalizeName(stem[:i]) == project {
					return distFile{Name: stem[:i], Version: stem[i+1:], Kind: kindSdist, PyVersion: "source"}, nil
				}
			}
		}
		// Without a project to match: the name ends at the first dash
		// followed by a digit.
		for i := 0; i+1 < len(stem); i++ {
			if stem[i] == '-' && i > 0 && '0' <= stem[i+1] && stem[i+1] <= '9' {
				return distFile{Name: stem[:i], Version: stem[i+1:], Kind: kindSdist, PyVersion: "source"}, nil
			}
		}
		return distFile{}, fmt.Errorf("%.100q is not a source distribution file name", filename)
	}
	return distFile{}, fmt.Errorf("%.100q is not a distribution file name (wheel, sdist or egg)", filename)
}

// pathEscape escapes one URL path segment; '+' (local versions) is escaped
// too, as PyPI does, since some servers read it as a space.
func pathEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
}

// CheckName implements formats.NameChecker: a project name as PEP 508
// defines it (validName), and no namespace.
func (f *Format) CheckName(p formats.Package) error {
	if p.Namespace != "" {
		return fmt.Errorf("%w: pypi: packages have no namespace", formats.ErrInvalid)
	}
	if !validName(p.Name) {
		return fmt.Errorf("%w: pypi: %q is not a valid project name (PEP 508: ASCII letters, digits, '-', '_' and '.', at most %d characters)", formats.ErrInvalid, formats.Truncate(p.Name, maxAttrLen), maxNameLen)
	}
	return nil
}
