package npm

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWarmDeployedTCP is BenchmarkWarmDeployed over loopback TCP
// through net/http with keep-alive clients, so that a CPU profile shows
// the server's whole share of a hit (net/http's included) beside the
// clients' (go test -bench WarmDeployedTCP -run '^$' -cpuprofile cpu.out
// ./formats/npm, then look below net/http.(*conn).serve).
func BenchmarkWarmDeployedTCP(b *testing.B) {
	logFile, err := os.Create(filepath.Join(b.TempDir(), "stockpile.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	in, packument, _ := deployedServer(b, logFile, nil)
	tok := in.Token("bench")
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
		req, _ := http.NewRequest(http.MethodGet, in.URL+packument, nil)
		req.Header.Set("Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
