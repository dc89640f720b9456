package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
	"github.com/stockpile-proxy/stockpile/storage/migrate"
)

const migrateLong = `Copy everything a Badger data directory holds (the server on it stopped) into
the PostgreSQL + S3 store that the configuration's storage.postgres and
storage.s3 name: every blob, checked against its digests, then every record,
with the time a record with a TTL has left. Progress goes to stderr. Run it
again after an interruption: blobs already copied are skipped. At the end it
counts both sides and fails if the destination lacks anything.`

func migrateCommand(e *env, r *runner) *cobra.Command {
	var config, from, to string
	c := &cobra.Command{
		Use:   "migrate --from badger:DIR --to postgres [--config FILE]",
		Short: "Copy a Badger data directory into PostgreSQL and S3",
		Long:  migrateLong,
		Args:  noArgs,
		RunE: r.wrap(func(cmd *cobra.Command, _ []string) error {
			dir, ok := strings.CutPrefix(from, "badger:")
			if !ok || dir == "" {
				return usagef(cmd, "--from must be badger:DIR, got %q", from)
			}
			if to != "postgres" {
				return usagef(cmd, "--to must be postgres, got %q", to)
			}
			cfg, err := proxy.Load(config, e.getenv)
			if err != nil {
				return err
			}
			cfg.Storage.Backend = "postgres"
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("migrate: the destination's configuration: %w", err)
			}
			return runMigrate(cfg, dir, e.stdout, e.stderr)
		}),
	}
	c.Flags().StringVar(&config, "config", "", "configuration file naming the destination (storage.postgres, storage.s3)")
	c.Flags().StringVar(&from, "from", "", "source store: badger:DIR (a data directory)")
	c.Flags().StringVar(&to, "to", "postgres", "destination store: postgres (with the S3 settings of the configuration)")
	return c
}

func runMigrate(cfg *proxy.Config, dir string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(cfg, stderr).With("component", "storage")
	src, err := badgerstore.Open(badgerstore.Options{Dir: dir, GCInterval: -1}, log)
	if err != nil {
		return fmt.Errorf("migrate: open %s (is a server still running on it?): %w", dir, err)
	}
	defer src.Close()
	dst, err := openStore(ctx, cfg, -1, log)
	if err != nil {
		return fmt.Errorf("migrate: open the destination: %w", err)
	}
	defer dst.Close()
	rep, err := migrate.Copy(ctx, src, dst, func(p migrate.Progress) {
		fmt.Fprintf(stderr, "migrate: %d blobs (%d already there, %d bytes copied), %d records\n", p.Blobs, p.BlobsSkipped, p.Bytes, p.Records)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated: %d blobs (%d copied, %d bytes), %d records; the destination holds %d blobs and %d records, the source %d and %d\n",
		rep.Blobs, rep.Blobs-rep.BlobsSkipped, rep.Bytes, rep.Records, rep.DestBlobs, rep.DestRecords, rep.SourceBlobs, rep.SourceRecords)
	return nil
}
