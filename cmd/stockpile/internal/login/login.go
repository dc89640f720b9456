// Package login writes package managers' own configuration files so that
// they use a Stockpile repository with a token: each tool's registry or
// source setting and its credentials, merged into the files that exist
// (other settings kept, a backup beside them).
package login

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Target is what a tool is pointed at.
type Target struct {
	// Endpoint is the repository's endpoint for the tool's format, as
	// GetRepositoryEndpoint answers it: http://host:port/DOMAIN/FORMAT/REPO/.
	Endpoint string
	// Token is the secret the tool presents.
	Token string
}

// Place says where the files are.
type Place struct {
	// Home is the user's home directory.
	Home string
	// Dir is the project's directory (the working directory).
	Dir string
	// Project writes the registry setting into the project's file instead
	// of the user's. Tokens always go to the user's files: project files
	// are committed.
	Project bool
	// Getenv reads the variables tools use to move their files
	// (NPM_CONFIG_USERCONFIG, XDG_CONFIG_HOME, CARGO_HOME, ...).
	Getenv func(string) string
	// ReadFile reads a file (os.ReadFile); a missing file is
	// os.ErrNotExist.
	ReadFile func(string) ([]byte, error)
}

// Edit is one file written.
type Edit struct {
	Path string
	// Before is the file as it was; nil when it did not exist.
	Before []byte
	After  []byte
	// Mode of a new file: 0600 when it holds a secret.
	Mode os.FileMode
}

// ErrNoProjectFile is a tool without a project-level file for --project.
var ErrNoProjectFile = errors.New("has no project configuration file")

// Tool is one package manager.
type Tool struct {
	Name string
	// Format is the repository format whose endpoint the tool uses.
	Format string
	// Files describes what is written, for the help.
	Files string
	plan  func(p Place, t Target) ([]Edit, error)
}

// Plan computes the edits for t without writing anything.
func (tl Tool) Plan(p Place, t Target) ([]Edit, error) {
	if !strings.HasSuffix(t.Endpoint, "/") {
		t.Endpoint += "/"
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not an http(s) URL", t.Endpoint)
	}
	if p.Getenv == nil {
		p.Getenv = func(string) string { return "" }
	}
	if p.ReadFile == nil {
		p.ReadFile = os.ReadFile
	}
	return tl.plan(p, t)
}

// Names lists the tools' names, sorted.
func Names() []string {
	var out []string
	for _, t := range Tools() {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}

// Lookup finds a tool by name.
func Lookup(name string) (Tool, bool) {
	for _, t := range Tools() {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// read returns a file's content, nil when it does not exist.
func (p Place) read(path string) ([]byte, error) {
	b, err := p.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// edit reads path and returns the edit change makes of it.
func (p Place) edit(path string, mode os.FileMode, change func(old []byte) ([]byte, error)) (Edit, error) {
	old, err := p.read(path)
	if err != nil {
		return Edit{}, err
	}
	out, err := change(old)
	if err != nil {
		return Edit{}, fmt.Errorf("%s: %w", path, err)
	}
	return Edit{Path: path, Before: old, After: out, Mode: mode}, nil
}

// configHome is $XDG_CONFIG_HOME or ~/.config.
func (p Place) configHome() string {
	if d := p.Getenv("XDG_CONFIG_HOME"); d != "" {
		return d
	}
	return filepath.Join(p.Home, ".config")
}

// Apply writes the edits: each file replaced at once (written beside and
// renamed), an existing one first copied to PATH.bak, new ones and their
// directories created private to the user when they hold a secret.
// Unchanged files are left alone. It returns the backups made.
func Apply(edits []Edit) ([]string, error) {
	var backups []string
	for _, e := range edits {
		if e.Before != nil && bytes.Equal(e.Before, e.After) {
			continue
		}
		dirMode := os.FileMode(0o755)
		if e.Mode&0o077 == 0 {
			dirMode = 0o700
		}
		if err := os.MkdirAll(filepath.Dir(e.Path), dirMode); err != nil {
			return backups, err
		}
		mode := e.Mode
		if e.Before != nil {
			if st, err := os.Stat(e.Path); err == nil {
				mode = st.Mode().Perm() & mode // never looser than it was, nor than a secret needs
				if mode == 0 {
					mode = e.Mode
				}
			}
			if err := writeFile(e.Path+".bak", e.Before, 0o600); err != nil {
				return backups, fmt.Errorf("backup of %s: %w", e.Path, err)
			}
			backups = append(backups, e.Path+".bak")
		}
		if err := writeFile(e.Path, e.After, mode); err != nil {
			return backups, err
		}
	}
	return backups, nil
}

// writeFile replaces path with b atomically.
func writeFile(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Mask replaces every form of token the files hold (as is and
// URL-escaped) with "****".
func Mask(b []byte, token string) []byte {
	if token == "" {
		return b
	}
	for _, form := range []string{token, url.QueryEscape(token), url.PathEscape(token), xmlEscape(token)} {
		b = bytes.ReplaceAll(b, []byte(form), []byte("****"))
	}
	return b
}

// Describe prints the edits as a dry run: each file's path, whether it is
// new or edited (with its backup), and its new content with the token
// masked.
func Describe(w io.Writer, edits []Edit, token string) {
	for _, e := range edits {
		switch {
		case e.Before == nil:
			fmt.Fprintf(w, "--- %s (new file)\n", e.Path)
		case bytes.Equal(e.Before, e.After):
			fmt.Fprintf(w, "--- %s (unchanged)\n", e.Path)
			continue
		default:
			fmt.Fprintf(w, "--- %s (edited; the old one kept as %s.bak)\n", e.Path, e.Path)
		}
		out := Mask(e.After, token)
		w.Write(out)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
}
