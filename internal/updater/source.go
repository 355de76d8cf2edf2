package updater

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/reports"
)

// OpenSource builds the report source the config names. It does no I/O
// beyond resolving the DSN secret; a nil Source with a nil error means the
// config has no source (type none). log gets the source's warnings (reports
// dated in the future).
func OpenSource(src config.Source, getenv func(string) string, now func() time.Time, log zerolog.Logger) (reports.Source, error) {
	switch src.Type {
	case "", "none":
		return nil, nil
	case "file":
		return &reports.File{Path: src.Path, Format: src.Format, MaxAge: src.MaxAge.D(), Now: now, Timeout: src.Timeout.D(), Log: log}, nil
	case "sql":
		dsn, err := src.ResolveDSN(getenv)
		if err != nil {
			return nil, fmt.Errorf("report source sql (%s): %w", src.Driver, err)
		}
		return &reports.SQL{Driver: src.Driver, DSN: dsn, Query: src.Query, Timeout: src.Timeout.D()}, nil
	}
	return nil, fmt.Errorf("report source: unknown type %q", src.Type)
}

// SourceName names a source for output, also when it could not be opened.
func SourceName(src config.Source) string {
	switch src.Type {
	case "file":
		return fmt.Sprintf("file %q", src.Path)
	case "sql":
		return fmt.Sprintf("sql (%s)", src.Driver)
	}
	return "none"
}
