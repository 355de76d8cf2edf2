package reports

import (
	"context"
	"time"
)

// Source reads report counts per key for reports created at or after since.
//
// A key that is absent from the map has no reports in the window; callers
// treat it as zero.
type Source interface {
	Counts(ctx context.Context, since time.Time) (map[string]int, error)
	// String names the source for messages and output, e.g.
	// `file "/etc/x/reports.json"` or `sql (mysql)`. It never contains a DSN
	// or a password.
	String() string
	Close() error
}

// None is the source for type none: the decision rests on the probes alone.
type None struct{}

// Counts returns an empty map.
func (None) Counts(context.Context, time.Time) (map[string]int, error) {
	return map[string]int{}, nil
}

// String returns "none".
func (None) String() string { return "none" }

// Close does nothing.
func (None) Close() error { return nil }

var (
	_ Source = None{}
	_ Source = (*File)(nil)
	_ Source = (*SQL)(nil)
)
