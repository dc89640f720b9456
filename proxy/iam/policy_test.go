package iam

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		doc  string
		want *Policy
	}{
		{
			name: "single statement object, defaults Resource in a resource policy",
			kind: Resource,
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"codeartifact:ReadFromRepository"}}`,
			want: &Policy{Kind: Resource, Version: Version2012, Statements: []Statement{{
				Effect: Allow, Principals: []string{"*"}, Actions: []string{"codeartifact:readfromrepository"}, Resources: []string{"*"},
			}}},
		},
		{
			name: "list of statements with principals, NotAction and conditions",
			kind: Resource,
			doc: `{"Version":"2012-10-17","Id":"p1","Statement":[
				{"Sid":"Read","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]},
				 "Action":["codeartifact:Describe*","codeartifact:ReadFromRepository"],"Resource":"*"},
				{"Sid":"NoDelete","Effect":"Deny","Principal":{"AWS":"*"},"NotAction":"codeartifact:Read*",
				 "Resource":"arn:aws:codeartifact:us-east-1:111122223333:package/acme/app/npm//lodash",
				 "Condition":{"StringLike":{"aws:PrincipalArn":["arn:aws:iam::111122223333:role/ci-*"]}}}]}`,
			want: &Policy{Kind: Resource, Version: Version2012, ID: "p1", Statements: []Statement{
				{Sid: "Read", Effect: Allow, Principals: []string{"arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:root"},
					Actions: []string{"codeartifact:describe*", "codeartifact:readfromrepository"}, Resources: []string{"*"}},
				{Sid: "NoDelete", Effect: Deny, Principals: []string{"*"}, Actions: []string{"codeartifact:read*"}, NotAction: true,
					Resources:  []string{"arn:aws:codeartifact:us-east-1:111122223333:package/acme/app/npm//lodash"},
					Conditions: []Condition{{Operator: "StringLike", Key: "aws:principalarn", Values: []string{"arn:aws:iam::111122223333:role/ci-*"}}}},
			}},
		},
		{
			name: "identity policy with NotResource and wildcard ARNs",
			kind: Identity,
			doc: `{"Statement":[{"Effect":"Allow","Action":["codeartifact:*","sts:GetServiceBearerToken"],
				"Resource":["arn:aws:codeartifact:*:111122223333:repository/acme/*","arn:aws:codeartifact:*:*:package/acme/app/*"]},
				{"Effect":"Deny","Action":"*","NotResource":"arn:aws:codeartifact:*:*:domain/acme"}]}`,
			want: &Policy{Kind: Identity, Statements: []Statement{
				{Effect: Allow, Actions: []string{"codeartifact:*", "sts:getservicebearertoken"},
					Resources: []string{"arn:aws:codeartifact:*:111122223333:repository/acme/*", "arn:aws:codeartifact:*:*:package/acme/app/*"}},
				{Effect: Deny, Actions: []string{"*"}, Resources: []string{"arn:aws:codeartifact:*:*:domain/acme"}, NotResource: true},
			}},
		},
		{
			name: "other services' ARNs are not checked beyond the ARN shape",
			kind: Identity,
			doc:  `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/key"}]}`,
			want: &Policy{Kind: Identity, Version: Version2008, Statements: []Statement{
				{Effect: Allow, Actions: []string{"s3:getobject"}, Resources: []string{"arn:aws:s3:::bucket/key"}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc), tt.kind)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const arn = "arn:aws:codeartifact:us-east-1:111122223333"
	tests := []struct {
		name string
		kind Kind
		doc  string
		want string // the error names this
	}{
		{"not json", Resource, `{"Version":`, "not valid JSON"},
		{"not an object", Resource, `[1]`, "must be a JSON object"},
		{"trailing data", Resource, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]} {}`, "data after its end"},
		{"unknown top element", Resource, `{"Version":"2012-10-17","Statment":[]}`, `unknown element "Statment"`},
		{"duplicate element", Resource, `{"Statement":{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"*"}}`, `"Effect" appears twice`},
		{"bad version", Resource, `{"Version":"2020-01-01","Statement":[]}`, `Version: "2020-01-01"`},
		{"no statement", Resource, `{"Version":"2012-10-17"}`, "no Statement"},
		{"empty statement list", Resource, `{"Statement":[]}`, "Statement: the list is empty"},
		{"unknown statement element", Resource, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resources":"*"}]}`, `Statement[0]: unknown element "Resources"`},
		{"bad effect", Resource, `{"Statement":{"Effect":"allow","Principal":"*","Action":"*"}}`, `Statement.Effect: "allow" must be Allow or Deny`},
		{"no effect", Resource, `{"Statement":{"Principal":"*","Action":"*"}}`, "no Effect"},
		{"no action", Resource, `{"Statement":{"Effect":"Allow","Principal":"*"}}`, "no Action"},
		{"action and notaction", Resource, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"}}`, "Action or NotAction, not both"},
		{"bad action", Resource, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ReadFromRepository"}}`, `"ReadFromRepository" is not an action`},
		{"empty action list", Resource, `{"Statement":{"Effect":"Allow","Principal":"*","Action":[]}}`, "Statement.Action: the list is empty"},
		{"action not string", Resource, `{"Statement":{"Effect":"Allow","Principal":"*","Action":7}}`, "Statement.Action: must be a string or a list of strings"},
		{"resource policy without principal", Resource, `{"Statement":{"Effect":"Allow","Action":"*"}}`, "needs a Principal"},
		{"identity policy with principal", Identity, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "identity policy has no Principal"},
		{"identity policy without resource", Identity, `{"Statement":{"Effect":"Allow","Action":"*"}}`, "no Resource"},
		{"principal string not star", Resource, `{"Statement":{"Effect":"Allow","Principal":"bob","Action":"*"}}`, `"bob" must be "*"`},
		{"principal service", Resource, `{"Statement":{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"*"}}`, `principal type "Service"`},
		{"principal malformed arn", Resource, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1234:user/bob"},"Action":"*"}}`, `"arn:aws:iam::1234:user/bob" is not a principal ARN`},
		{"principal wildcard arn", Resource, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*"}}`, "is not a principal ARN"},
		{"not principal", Resource, `{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"*"}}`, "NotPrincipal is not supported"},
		{"resource not an arn", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"acme/app"}}`, `"acme/app" is not a valid ARN`},
		{"resource too few parts", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:codeartifact:us-east-1"}}`, "is not a valid ARN"},
		{"resource bad account", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:codeartifact:us-east-1:12:domain/acme"}}`, `account "12"`},
		{"resource unknown type", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"` + arn + `:repo/acme/app"}}`, `resource type "repo"`},
		{"repository arn missing repo", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"` + arn + `:repository/acme"}}`, "a repository ARN has 2 segments"},
		{"package arn short", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"` + arn + `:package/acme/app/npm/lodash"}}`, "a package ARN has 5 segments"},
		{"package arn empty name", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"` + arn + `:package/acme/app/npm/ns/"}}`, "segment 5 after package/ is empty"},
		{"domain arn empty", Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"` + arn + `:domain/"}}`, "segment 1 after domain/ is empty"},
		{"unknown operator", Resource, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, `condition operator "IpAddress"`},
		{"unknown condition key", Resource, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}}`, `condition key "aws:SourceVpc"`},
		{"condition value not string", Resource, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalArn":true}}}}`, "must be a string or a list"},
		{"duplicate sid", Resource, `{"Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"*"},{"Sid":"A","Effect":"Allow","Principal":"*","Action":"*"}]}`, `"A" is used by two statements`},
		{"bad sid", Resource, `{"Statement":{"Sid":"a.b","Effect":"Allow","Principal":"*","Action":"*"}}`, `"a.b" may contain only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc), tt.kind)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}

func TestParseRefusesHugeDocuments(t *testing.T) {
	doc := `{"Statement":{"Sid":"` + strings.Repeat("a", maxParseSize) + `","Effect":"Allow","Principal":"*","Action":"*"}}`
	if _, err := Parse([]byte(doc), Resource); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("Parse of %d bytes: %v", len(doc), err)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, pattern, s string
		want             bool
	}{
		{"exact", "abc", "abc", true},
		{"different", "abc", "abd", false},
		{"star matches empty", "a*c", "ac", true},
		{"star spans slashes", "arn:x:package/acme/*", "arn:x:package/acme/app/npm//lodash", true},
		{"star spans colons", "arn:*:domain/acme", "arn:aws:codeartifact:r:1:domain/acme", true},
		{"question one char", "a?c", "abc", true},
		{"question not empty", "a?c", "ac", false},
		{"trailing stars", "abc**", "abc", true},
		{"prefix only", "abc", "abcd", false},
		{"backtracking", "*a*b*c", "xaxbxbxc", true},
		{"backtracking fails", "*a*b*c", "xaxbxbx", false},
		{"case sensitive", "ABC", "abc", false},
		{"pathological stays linear-ish", strings.Repeat("*a", 30) + "b", strings.Repeat("a", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.pattern, tt.s); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestValidPrincipalARN(t *testing.T) {
	tests := []struct {
		name, arn string
		ok        bool
	}{
		{"user", "arn:aws:iam::111122223333:user/alice", true},
		{"user with path", "arn:aws:iam::111122223333:user/team/alice", true},
		{"role", "arn:aws:iam::111122223333:role/ci-publisher", true},
		{"root is not a key owner", "arn:aws:iam::111122223333:root", false},
		{"short account", "arn:aws:iam::1111:user/alice", false},
		{"other service", "arn:aws:s3:::bucket", false},
		{"group", "arn:aws:iam::111122223333:group/devs", false},
		{"empty name", "arn:aws:iam::111122223333:user/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidPrincipalARN(tt.arn); (err == nil) != tt.ok {
				t.Errorf("ValidPrincipalARN(%q) = %v, want ok=%v", tt.arn, err, tt.ok)
			}
		})
	}
}
