package stack

import "github.com/stockpile-proxy/stockpile/storage/s3"

// Storage is the storage of a replica (StockpileConfig.Storage): records in
// PostgreSQL at DSN, blobs in the S3 bucket of S3, which names this
// replica's own cache directory.
type Storage struct {
	DSN string
	S3  s3.Options
}

// spStorage is the storage section of the configuration file.
type spStorage struct {
	Backend  string     `yaml:"backend"`
	Postgres spPostgres `yaml:"postgres"`
	S3       s3.Options `yaml:"s3"`
}

type spPostgres struct {
	DSN string `yaml:"dsn"`
}

// section returns the storage section, nil (Badger in the data directory)
// for a nil Storage.
func (s *Storage) section() *spStorage {
	if s == nil {
		return nil
	}
	return &spStorage{Backend: "postgres", Postgres: spPostgres{DSN: s.DSN}, S3: s.S3}
}
