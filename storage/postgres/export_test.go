package postgres

// SetTestHookDownloading sets the function s runs when a reader has started
// or joined a download (see Store.testHookDownloading). Set it before the
// reads it observes.
func SetTestHookDownloading(s *Store, f func()) { s.testHookDownloading = f }
