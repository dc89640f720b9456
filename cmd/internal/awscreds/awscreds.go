// Package awscreds finds AWS credentials and the region the way the AWS CLI
// does, for the subset that applies to a Stockpile's static access keys:
// the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), then a profile (AWS_PROFILE, or "default") of the
// shared credentials file and the config file
// (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html).
package awscreds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNone means no credentials were found.
var ErrNone = errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile with aws_access_key_id and aws_secret_access_key")

// Credentials are one access key and the region to sign for.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Region          string
	// Source says where they came from ("environment", "profile NAME").
	Source string
}

// DefaultRegion is the region when none is configured. Stockpile does not
// check the region; it is part of the signature only.
const DefaultRegion = "us-east-1"

// Find resolves the credentials. profile overrides AWS_PROFILE when not
// empty. Files are read with readFile (os.ReadFile in production); a
// missing file is no error.
func Find(getenv func(string) string, profile string, readFile func(string) ([]byte, error)) (Credentials, error) {
	if profile == "" {
		profile = getenv("AWS_PROFILE")
	}
	home := getenv("HOME")
	credFile := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credFile == "" && home != "" {
		credFile = filepath.Join(home, ".aws", "credentials")
	}
	confFile := getenv("AWS_CONFIG_FILE")
	if confFile == "" && home != "" {
		confFile = filepath.Join(home, ".aws", "config")
	}
	name := profile
	if name == "" {
		name = "default"
	}
	creds, err := parse(readFile, credFile, name)
	if err != nil {
		return Credentials{}, err
	}
	confSection := "profile " + name
	if name == "default" {
		confSection = "default"
	}
	conf, err := parse(readFile, confFile, confSection)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	switch {
	case profile == "" && getenv("AWS_ACCESS_KEY_ID") != "" && getenv("AWS_SECRET_ACCESS_KEY") != "":
		c = Credentials{AccessKeyID: getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: getenv("AWS_SESSION_TOKEN"), Source: "environment"}
	case creds["aws_access_key_id"] != "" && creds["aws_secret_access_key"] != "":
		c = Credentials{AccessKeyID: creds["aws_access_key_id"], SecretAccessKey: creds["aws_secret_access_key"],
			SessionToken: creds["aws_session_token"], Source: "profile " + name}
	case conf["aws_access_key_id"] != "" && conf["aws_secret_access_key"] != "":
		c = Credentials{AccessKeyID: conf["aws_access_key_id"], SecretAccessKey: conf["aws_secret_access_key"],
			SessionToken: conf["aws_session_token"], Source: "profile " + name}
	case profile != "":
		return Credentials{}, fmt.Errorf("profile %q has no aws_access_key_id and aws_secret_access_key in %s or %s", profile, credFile, confFile)
	default:
		return Credentials{}, ErrNone
	}
	for _, r := range []string{getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), conf["region"], DefaultRegion} {
		if r != "" {
			c.Region = r
			break
		}
	}
	return c, nil
}

// parse reads the keys of one section of an INI file as the AWS CLI
// writes them; a missing file is an empty section.
func parse(readFile func(string) ([]byte, error), path, section string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	b, err := readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			in = strings.TrimSpace(strings.Trim(line, "[]")) == section
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	return out, sc.Err()
}
