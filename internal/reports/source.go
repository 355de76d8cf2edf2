package reports

import (
	"context"
	"time"
)

// Source reads report counts per key for reports created at or after since.
//
// A key that is absent from the map has no reports in the window; callers
// treat it as zero. There is no Source for "no reports" (type none): callers
// hold a nil Source and decide from the probes alone.
type Source interface {
	Counts(ctx context.Context, since time.Time) (map[string]int, error)
	// String names the source for messages and output, e.g.
	// `file "/etc/x/reports.json"` or `sql (mysql)`. It never contains a DSN
	// or a password.
	String() string
	Close() error
}

var (
	_ Source = (*File)(nil)
	_ Source = (*SQL)(nil)
)
