package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// sqliteTimeLayout is how SQLite, which has no time type, keeps times: text
// that sorts as time does and that its date functions read.
const sqliteTimeLayout = "2006-01-02 15:04:05.000000"

// metaTimeLayout is how times are kept as meta values, in every database.
const metaTimeLayout = "2006-01-02T15:04:05.000000Z"

// maxParams bounds the parameters of one statement, under every database's
// limit (SQLite's was 999).
const maxParams = 900

// execer is what runs statements: a *sql.DB, *sql.Conn or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q rewrites a statement written with ? placeholders for the driver:
// PostgreSQL numbers them ($1, $2, …). The store's statements hold no ? in
// strings.
func (s *SQL) q(query string) string {
	if s.driver != DriverPostgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dbTime is t as the store keeps it: UTC, to the microsecond (the precision
// of MySQL's DATETIME(6) and PostgreSQL's timestamptz).
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeArg is the bound value of a time; the zero time is NULL.
func (s *SQL) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if s.driver == DriverSQLite {
		return dbTime(t).Format(sqliteTimeLayout)
	}
	return dbTime(t)
}

// dbTimeScan reads a time column: time.Time from MySQL and PostgreSQL, text
// from SQLite (in the store's layout, or RFC 3339 if a person wrote it);
// NULL is the zero time.
type dbTimeScan struct{ t time.Time }

var textTimeLayouts = []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"}

func (d *dbTimeScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.t = time.Time{}
		return nil
	case time.Time:
		d.t = v.UTC()
		return nil
	case []byte:
		return d.parse(string(v))
	case string:
		return d.parse(v)
	}
	return fmt.Errorf("time column holds %T, not a time", src)
}

func (d *dbTimeScan) parse(text string) error {
	for _, layout := range textTimeLayouts {
		if t, err := time.ParseInLocation(layout, text, time.UTC); err == nil {
			d.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("time column holds %q, not a time like 2026-11-25 06:35:02.000000", text)
}

// insertRows inserts rows into table, as few statements as the parameter
// limit allows; suffix follows each statement (an upsert clause).
func (s *SQL) insertRows(ctx context.Context, ex execer, table string, cols []string, rows [][]any, suffix string) error {
	per := max(maxParams/len(cols), 1)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	for start := 0; start < len(rows); start += per {
		batch := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(batch)*len(cols))
		for i, r := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
			args = append(args, r...)
		}
		b.WriteString(suffix)
		if _, err := ex.ExecContext(ctx, s.q(b.String()), args...); err != nil {
			return fmt.Errorf("writing %s: %w", table, err)
		}
	}
	return nil
}

// inTx runs fn in one transaction, committed when fn returns nil and ctx
// has not ended: nothing half-written when anything fails. Once the commit
// is sent only the database's answer says whether it landed: a commit that
// got none (the connection broke, ctx ended while it waited) returns an
// error wrapping ErrInDoubt.
func (s *SQL) inTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := ctx.Err(); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil && !answered(err) {
		return fmt.Errorf("%w (%w)", ErrInDoubt, err)
	} else {
		return err
	}
}

// answered reports whether err is the database's own answer, not the lack
// of one.
func answered(err error) bool {
	var my *mysql.MySQLError
	var pg *pgconn.PgError
	var lite *sqlite.Error
	return errors.As(err, &my) || errors.As(err, &pg) || errors.As(err, &lite)
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
