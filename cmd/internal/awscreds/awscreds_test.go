package awscreds

import (
	"os"
	"testing"
)

func TestFind(t *testing.T) {
	files := map[string]string{
		"/h/.aws/credentials": "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = sdef\n\n[ci]\naws_access_key_id=AKCI\naws_secret_access_key=sci\n",
		"/h/.aws/config":      "[default]\nregion = eu-west-1\n[profile ci]\nregion = ap-south-1\n[profile conf]\naws_access_key_id = AKCONF\naws_secret_access_key = sconf\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	tests := []struct {
		name, profile string
		env           map[string]string
		want          Credentials
		wantErr       bool
	}{
		{"environment wins over the default profile", "", map[string]string{"HOME": "/h", "AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "senv", "AWS_SESSION_TOKEN": "st"},
			Credentials{AccessKeyID: "AKENV", SecretAccessKey: "senv", SessionToken: "st", Region: "eu-west-1", Source: "environment"}, false},
		{"default profile and its region", "", map[string]string{"HOME": "/h"},
			Credentials{AccessKeyID: "AKDEF", SecretAccessKey: "sdef", Region: "eu-west-1", Source: "profile default"}, false},
		{"AWS_PROFILE and AWS_REGION", "", map[string]string{"HOME": "/h", "AWS_PROFILE": "ci", "AWS_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "senv"},
			Credentials{AccessKeyID: "AKCI", SecretAccessKey: "sci", Region: "us-west-2", Source: "profile ci"}, false},
		{"--profile with keys in the config file", "conf", map[string]string{"HOME": "/h"},
			Credentials{AccessKeyID: "AKCONF", SecretAccessKey: "sconf", Region: DefaultRegion, Source: "profile conf"}, false},
		{"an unknown profile", "nope", map[string]string{"HOME": "/h"}, Credentials{}, true},
		{"nothing at all", "", map[string]string{"HOME": "/elsewhere"}, Credentials{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(func(k string) string { return tt.env[k] }, tt.profile, read)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
