// Package reports reads how many automatic timeout reports users sent about
// each server in the window (the last two hours): a [Source] returns counts
// per key, and deciding what they mean is someone else's job.
//
// Sources:
//
//   - [File], format "counts": a JSON object {"s14": 12, "s15": 0} that
//     already holds the window's counts; the since argument is ignored.
//     Values must be whole, non-negative numbers (12.0 is read as 12); a
//     duplicate key is an error.
//   - [File], format "events": lines `key,RFC 3339 time`; lines whose time is
//     at or after since are counted, except those more than [MaxClockSkew]
//     ahead of the clock, which are left out with a warning.
//   - [SQL]: one query per run with one bind parameter, the window start,
//     returning rows (key, count); rows with the same key are summed.
//
// Type none has no Source: the caller holds a nil Source and the run decides
// from the probes alone.
//
// A key absent from the map has no reports in the window.
//
// # Time zones in SQL sources
//
// The window start is bound in UTC. What that means depends on the column:
//
//   - MySQL/MariaDB DATETIME has no zone. go-sql-driver/mysql sends a
//     time.Time as a literal in the DSN's loc (UTC by default), so store
//     report times in UTC and use parseTime=true&loc=UTC, or set loc to the
//     zone the column is written in. TIMESTAMP columns are converted through
//     the session time_zone: add time_zone=%27%2B00%3A00%27 to the DSN.
//   - PostgreSQL TIMESTAMPTZ compares exactly with the bound instant. For a
//     TIMESTAMP (without time zone) column compared with a bare $1, pgx binds
//     the UTC wall clock of the window start, so the column must hold UTC
//     wall-clock times: write them with a session TimeZone of UTC (or
//     now() AT TIME ZONE 'UTC'), or use TIMESTAMPTZ. Put timezone=UTC in the
//     DSN so any cast between the two types in the query also happens in UTC.
//   - SQLite has no time type: store UTC text 'YYYY-MM-DD HH:MM:SS' (as
//     datetime('now') writes it); the window start is bound as text in that
//     form and compared as text.
//
// The README section "### From a database (MariaDB/MySQL, PostgreSQL,
// SQLite)" gives a schema, query, DSN and configuration for each.
//
// # Secrets
//
// The DSN is a secret. Errors from an SQL source name the source and the
// driver ("reading reports from sql (postgres): ...") and have the DSN and any
// password found in it scrubbed; they are fresh errors, so the driver's error
// is not reachable with errors.As, but a timeout still matches
// context.DeadlineExceeded with errors.Is.
package reports
