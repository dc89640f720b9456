package proxytest

import "github.com/stockpile-proxy/stockpile/proxy"

// LifecycleConfig edits a test configuration for the formats' lifecycle
// tests: the access key keyID with secret (so tokens are required on the
// data plane), an immediate blob collector, and a repository dest in the
// first domain that reaches nothing, for copies.
func LifecycleConfig(keyID, secret string) func(*proxy.Config) {
	return func(cfg *proxy.Config) {
		cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: keyID, Secret: secret}}
		cfg.Storage.BlobGCGrace = 0
		cfg.Domains[0].Repositories = append(cfg.Domains[0].Repositories, proxy.RepositoryConfig{Name: "dest"})
	}
}
