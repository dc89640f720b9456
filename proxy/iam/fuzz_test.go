package iam

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary documents to the parser: a bad document is an
// error wrapping ErrInvalid, never a panic, and a document that parses can
// be evaluated.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/ci"]},"Action":["codeartifact:Describe*"],"Resource":"arn:aws:codeartifact:*:111122223333:package/acme/app/npm//*","Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}}]}`), true)
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotAction":"sts:*","NotResource":["arn:aws:codeartifact:r:111122223333:domain/acme"]}}`), false)
	f.Add([]byte(`{"Statement":[]}`), true)
	f.Add([]byte(`{"Version":1,"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ArnNotEquals":{"aws:principalaccount":[]}}}}`), true)
	f.Add([]byte(`[{"Statement":null}]`), false)
	f.Fuzz(func(t *testing.T, doc []byte, resource bool) {
		kind := Identity
		if resource {
			kind = Resource
		}
		p, err := Parse(doc, kind)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(p.Statements) == 0 {
			t.Fatal("a parsed policy has no statements")
		}
		Evaluate(Request{Principal: "arn:aws:iam::111122223333:user/a", Action: "codeartifact:ReadFromRepository", Resource: "arn:aws:codeartifact:r:111122223333:repository/acme/app"}, p)
	})
}
