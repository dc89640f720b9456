package iam

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, kind Kind, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	arns := ARNs{Region: "stockpile", Account: "111122223333"}
	const (
		alice = "arn:aws:iam::111122223333:user/alice"
		ci    = "arn:aws:iam::111122223333:role/ci-build"
		other = "arn:aws:iam::444455556666:user/mallory"
	)
	lodash := arns.Package("acme", "app", "npm", "", "lodash")
	internal := arns.Package("acme", "internal", "npm", "corp", "ui")
	readApp := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:*:repository/acme/app"}]}`
	publishInternal := `{"Statement":[{"Effect":"Allow","Action":["codeartifact:PublishPackageVersion","codeartifact:PutPackageMetadata"],"Resource":"arn:aws:codeartifact:stockpile:111122223333:package/acme/internal/*"}]}`
	denyLodash := `{"Statement":[{"Sid":"NoLodash","Effect":"Deny","Principal":"*","Action":"codeartifact:*","Resource":"` + lodash + `"}]}`
	allowAccount := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"codeartifact:Describe*"}]}`
	allowAlice := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"codeartifact:PublishPackageVersion","Resource":"*"}]}`
	ciOnly := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"codeartifact:ReadFromRepository","Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ci-*"}}}]}`
	notCI := `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"codeartifact:PublishPackageVersion","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ci-*"}}}]}`
	notAction := `{"Statement":[{"Effect":"Allow","NotAction":"codeartifact:Delete*","Resource":"*"}]}`
	notResource := `{"Statement":[{"Effect":"Allow","Action":"codeartifact:*","NotResource":"arn:aws:codeartifact:*:*:repository/acme/secret"}]}`
	caseless := `{"Statement":[{"Effect":"Allow","Action":"CodeArtifact:readfromREPOSITORY","Resource":"*"}]}`
	account := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"codeartifact:ReadFromRepository","Condition":{"StringEquals":{"AWS:PrincipalAccount":"111122223333"}}}]}`

	tests := []struct {
		name      string
		req       Request
		identity  string // "" for none, "admin" for AllowAll
		resources []string
		want      Decision
	}{
		{"no policy denies", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, "", nil, ImplicitDeny},
		{"identity allows its repository", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, readApp, nil, Allowed},
		{"identity does not reach another repository", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "internal")}, readApp, nil, ImplicitDeny},
		{"identity does not grant another action", Request{alice, "codeartifact:PublishPackageVersion", arns.Repository("acme", "app")}, readApp, nil, ImplicitDeny},
		{"package wildcard allows publish", Request{alice, "codeartifact:PublishPackageVersion", internal}, publishInternal, nil, Allowed},
		{"package wildcard stops at its repository", Request{alice, "codeartifact:PublishPackageVersion", lodash}, publishInternal, nil, ImplicitDeny},
		{"explicit deny in resource policy beats identity allow", Request{alice, "codeartifact:ReadFromRepository", lodash}, "admin", []string{denyLodash}, ExplicitDeny},
		{"deny on another package leaves the allow", Request{alice, "codeartifact:PublishPackageVersion", internal}, publishInternal, []string{denyLodash}, Allowed},
		{"resource policy alone allows (account root)", Request{alice, "codeartifact:DescribeDomain", arns.Domain("acme")}, "", []string{allowAccount}, Allowed},
		{"account root does not cover another account", Request{other, "codeartifact:DescribeDomain", arns.Domain("acme")}, "", []string{allowAccount}, ImplicitDeny},
		{"resource policy names one principal", Request{alice, "codeartifact:PublishPackageVersion", lodash}, "", []string{allowAlice}, Allowed},
		{"resource policy names someone else", Request{ci, "codeartifact:PublishPackageVersion", lodash}, "", []string{allowAlice}, ImplicitDeny},
		{"StringLike on aws:PrincipalArn matches", Request{ci, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, "", []string{ciOnly}, Allowed},
		{"StringLike on aws:PrincipalArn does not match", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, "", []string{ciOnly}, ImplicitDeny},
		{"ArnNotLike deny hits non-CI", Request{alice, "codeartifact:PublishPackageVersion", internal}, "admin", []string{notCI}, ExplicitDeny},
		{"ArnNotLike deny spares CI", Request{ci, "codeartifact:PublishPackageVersion", internal}, "admin", []string{notCI}, Allowed},
		{"NotAction allows the rest", Request{alice, "codeartifact:DescribePackage", lodash}, notAction, nil, Allowed},
		{"NotAction excludes its actions", Request{alice, "codeartifact:DeletePackageVersions", lodash}, notAction, nil, ImplicitDeny},
		{"NotResource allows elsewhere", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, notResource, nil, Allowed},
		{"NotResource excludes its resource", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "secret")}, notResource, nil, ImplicitDeny},
		{"actions are case-insensitive", Request{alice, "codeartifact:ReadFromRepository", lodash}, caseless, nil, Allowed},
		{"aws:PrincipalAccount", Request{alice, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, "", []string{account}, Allowed},
		{"aws:PrincipalAccount other account", Request{other, "codeartifact:ReadFromRepository", arns.Repository("acme", "app")}, "", []string{account}, ImplicitDeny},
		{"admin allows everything", Request{alice, "sts:GetServiceBearerToken", "*"}, "admin", nil, Allowed},
		{"a resource pattern does not match a request on no resource", Request{alice, "codeartifact:ListDomains", "*"}, readApp, nil, ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id *Policy
			switch tt.identity {
			case "":
			case "admin":
				id = AllowAll()
			default:
				id = mustParse(t, Identity, tt.identity)
			}
			var res []*Policy
			for _, d := range tt.resources {
				res = append(res, mustParse(t, Resource, d))
			}
			if got := Evaluate(tt.req, id, res...); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeniedMessage(t *testing.T) {
	d := &Denied{Request: Request{"arn:aws:iam::111122223333:user/bob", "codeartifact:PublishPackageVersion", "arn:aws:codeartifact:r:111122223333:package/acme/app/npm//x"}, Decision: ExplicitDeny}
	msg := d.Error()
	for _, want := range []string{"arn:aws:iam::111122223333:user/bob", "codeartifact:PublishPackageVersion", "package/acme/app/npm//x", "explicit deny"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not name %q", msg, want)
		}
	}
}
