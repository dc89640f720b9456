package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// fsck checks a data directory offline (the server must be stopped: the
// store is locked while it runs): it rehashes every blob, takes the corrupt
// ones out of service and reports them with the versions that referred to
// them. It fails when it found any.
func fsck(cfg *proxy.Config, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(cfg, stderr)
	store, err := openStore(ctx, cfg, -1, log.With("component", "storage"))
	if err != nil {
		return fmt.Errorf("fsck: open %s (is the server still running?): %w", cfg.DataDir, err)
	}
	defer store.Close()
	srv, err := proxy.New(ctx, cfg, store, allFormats(), log)
	if err != nil {
		return err
	}
	st, err := srv.Resolver().Check(ctx, resolver.CheckOptions{}, func(f resolver.Finding) { printFinding(stdout, f) })
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d blobs (%d bytes): %d corrupt\n", st.Blobs, st.Bytes, st.Corrupt)
	if st.Corrupt > 0 {
		return fmt.Errorf("fsck: %d corrupt blobs were taken out of service", st.Corrupt)
	}
	return nil
}

func printFinding(w io.Writer, f resolver.Finding) {
	fmt.Fprintf(w, "corrupt blob %s/%s (%d bytes): taken out of service\n", f.Domain, f.Sums.SHA256, f.Sums.Size)
	for _, v := range f.Versions {
		what := "LOST: no upstream serves it; publish it again"
		if v.Refetch {
			what = "fetched again from its upstream on the next request"
		}
		name := v.Package.Name
		if v.Package.Namespace != "" {
			name = v.Package.Namespace + "/" + name
		}
		fmt.Fprintf(w, "  %s: %s %s %s, %s: %s\n", v.Repository, v.Package.Format, name, v.Version, v.Asset, what)
	}
	if len(f.Versions) == 0 {
		fmt.Fprintln(w, "  no version refers to it")
	}
}
