package scenario

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// metaDoc is a metadata document a warm scenario measures: Stockpile's
// answer at URL for Accept, in its identity and its gzip coding, each
// against nginx serving those very bytes.
type metaDoc struct {
	Pair   string // "abbreviated packument"
	URL    string // Stockpile's
	Accept string
}

// docTargets asks Stockpile for each document twice, without and with
// Accept-Encoding: gzip, writes each answer below nginx's root (the gzip
// one as the .gz twin that gzip_static sends) and returns the targets:
// "<pair>" and "<pair> gzip", Stockpile's then nginx's. A document
// Stockpile does not compress is an error: clients ask for gzip.
func docTargets(ctx context.Context, st *stack.Stack, docs []metaDoc, remote bool) ([]bench.Target, map[string]any, error) {
	c := load.Client(30*time.Second, false)
	defer c.CloseIdleConnections()
	dir := filepath.Join(st.Root, stack.BaselineDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	info := map[string]any{}
	var targets []bench.Target
	for _, d := range docs {
		name := strings.ReplaceAll(d.Pair, " ", "-")
		plainHdr := st.Header(d.Accept)
		gzHdr := st.Header(d.Accept)
		gzHdr.Set("Accept-Encoding", "gzip")
		plain, enc, err := load.FetchEncoded(ctx, c, d.URL, plainHdr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d.Pair, err)
		}
		if enc != "" {
			return nil, nil, fmt.Errorf("%s: stockpile answered Content-Encoding %q to a request without Accept-Encoding", d.Pair, enc)
		}
		gz, enc, err := load.FetchEncoded(ctx, c, d.URL, gzHdr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s gzip: %w", d.Pair, err)
		}
		if enc != "gzip" {
			return nil, nil, fmt.Errorf("%s: stockpile does not answer gzip when asked (Content-Encoding %q)", d.Pair, enc)
		}
		for file, b := range map[string][]byte{name: plain, name + ".gz": gz} {
			if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
				return nil, nil, err
			}
		}
		ngURL := st.NginxURL + "/" + stack.BaselineDir + "/" + name
		ngGz := http.Header{"Accept-Encoding": {"gzip"}}
		if got, enc, err := load.FetchEncoded(ctx, c, ngURL, ngGz); err != nil || enc != "gzip" || len(got) != len(gz) {
			return nil, nil, fmt.Errorf("%s: nginx's gzip copy: %d bytes, Content-Encoding %q, err %v (is gzip_static built in?)", d.Pair, len(got), enc, err)
		}
		info[name+"_bytes"], info[name+"_gzip_bytes"] = len(plain), len(gz)
		sp, ng := st.StockpilePID, st.NginxPID()
		for _, v := range []struct {
			pair     string
			spH, ngH http.Header
			body     []byte
		}{{d.Pair, plainHdr, nil, plain}, {d.Pair + " gzip", gzHdr, ngGz, gz}} {
			targets = append(targets,
				bench.Target{Name: "stockpile " + v.pair, Pair: v.pair, Side: bench.SideStockpile, PID: sp,
					Request: load.Request{URL: d.URL, Header: v.spH, AllowRemote: remote},
					Expect:  load.Expect{Status: http.StatusOK, Bytes: int64(len(v.body))}},
				bench.Target{Name: "nginx " + v.pair, Pair: v.pair, Side: bench.SideBaseline, PID: ng,
					Request: load.Request{URL: ngURL, Header: v.ngH},
					Expect:  load.Expect{Status: http.StatusOK, Bytes: int64(len(v.body))}})
		}
	}
	return targets, info, nil
}
