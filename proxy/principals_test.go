package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/iam"
)

func TestPrincipalsConfig(t *testing.T) {
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "reader.json")
	if err := os.WriteFile(policyFile, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const head = "auth:\n  account: \"111122223333\"\n  access_keys:\n"
	tests := []struct {
		name     string
		yaml     string
		mode     AccessMode
		wantErr  []string
		wantARNs []string
		// admin[i]: key i may do anything; nil policy[i]: key i has none
		admin    []bool
		noPolicy []bool
	}{
		{name: "no keys is open", yaml: "auth:\n  account: \"111122223333\"\n", mode: ModeOpen},
		{
			name: "keys without policies are all administrators",
			yaml: head + "    - {id: AKIA1, secret: s1}\n    - {id: AKIA2, secret: s2, principal: \"arn:aws:iam::111122223333:role/ci\"}\n",
			mode: ModeAllAdmin, wantARNs: []string{"arn:aws:iam::111122223333:user/AKIA1", "arn:aws:iam::111122223333:role/ci"},
			admin: []bool{true, true}, noPolicy: []bool{false, false},
		},
		{
			name: "once a key has a policy, keys without one have none",
			yaml: head + "    - {id: AKIA1, secret: s1, admin: true}\n    - {id: AKIA2, secret: s2, policy_file: " + policyFile + "}\n    - {id: AKIA3, secret: s3}\n",
			mode: ModePolicies, wantARNs: []string{"arn:aws:iam::111122223333:user/AKIA1", "arn:aws:iam::111122223333:user/AKIA2", "arn:aws:iam::111122223333:user/AKIA3"},
			admin: []bool{true, false, false}, noPolicy: []bool{false, false, true},
		},
		{
			name: "inline policy",
			yaml: head + "    - id: AKIA1\n      secret: s1\n      policy: '{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"codeartifact:*\",\"Resource\":\"*\"}}'\n",
			mode: ModePolicies, wantARNs: []string{"arn:aws:iam::111122223333:user/AKIA1"}, admin: []bool{true}, noPolicy: []bool{false},
		},
		{name: "bad account", yaml: "auth:\n  account: \"1234\"\n", wantErr: []string{"line 2", "auth.account \"1234\""}},
		{name: "malformed principal", yaml: head + "    - {id: AKIA1, secret: s1, principal: \"user/bob\"}\n", wantErr: []string{"line 4", "AKIA1", "not a principal ARN"}},
		{name: "principal of another account", yaml: head + "    - {id: AKIA1, secret: s1, principal: \"arn:aws:iam::444455556666:user/bob\"}\n", wantErr: []string{"not in account 111122223333"}},
		{name: "admin and policy", yaml: head + "    - {id: AKIA1, secret: s1, admin: true, policy_file: x.json}\n", wantErr: []string{"exclude each other"}},
		{name: "policy that does not parse", yaml: head + "    - {id: AKIA1, secret: s1, policy: '{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:bad\"}}'}\n", wantErr: []string{"AKIA1", "identity policy", `"arn:bad" is not a valid ARN`}},
		{name: "policy with a principal", yaml: head + "    - {id: AKIA1, secret: s1, policy: '{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}}'}\n", wantErr: []string{"no Principal"}},
		{name: "missing policy file", yaml: head + "    - {id: AKIA1, secret: s1, policy_file: " + filepath.Join(dir, "nope.json") + "}\n", wantErr: []string{"policy_file", "nope.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, nil)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("Load accepted it")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.AccessMode(); got != tt.mode {
				t.Errorf("AccessMode = %v, want %v", got, tt.mode)
			}
			ps, err := cfg.Principals()
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(tt.wantARNs) {
				t.Fatalf("%d principals, want %d", len(ps), len(tt.wantARNs))
			}
			for i, p := range ps {
				if p.ARN != tt.wantARNs[i] {
					t.Errorf("key %s: principal %s, want %s", p.KeyID, p.ARN, tt.wantARNs[i])
				}
				if (p.Policy == nil) != tt.noPolicy[i] {
					t.Errorf("key %s: policy %v, want none=%v", p.KeyID, p.Policy, tt.noPolicy[i])
				}
				req := iam.Request{Principal: p.ARN, Action: "codeartifact:DeleteDomain", Resource: "arn:aws:codeartifact:stockpile:111122223333:domain/acme"}
				if got := iam.Evaluate(req, p.Policy) == iam.Allowed; got != tt.admin[i] {
					t.Errorf("key %s: may delete a domain = %v, want %v", p.KeyID, got, tt.admin[i])
				}
			}
		})
	}
}
