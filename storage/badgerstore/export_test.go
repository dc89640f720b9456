package badgerstore

// GCPassed yields a token after each pass of the value-log garbage
// collector, so that a test waits for one instead of sleeping.
func GCPassed(s *Store) <-chan struct{} { return s.gcPassed }
