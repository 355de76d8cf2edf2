package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// lockPollEvery is how often Lock tries again while another run holds the
// lock.
const lockPollEvery = 100 * time.Millisecond

// Lock takes the decision lock, waiting at most wait for another run to
// release it (then an error wrapping ErrLockBusy), and returns the function
// that releases it. The lock belongs to a connection of its own, which
// unlock closes: a run that dies releases it with its connection.
//
//   - MySQL/MariaDB: GET_LOCK('<prefix>decide@<database>', 0), tried every
//     100 ms; IS_USED_LOCK with that name gives the holder's connection id.
//   - PostgreSQL: pg_try_advisory_lock(key), tried every 100 ms; the holder
//     shows in pg_locks (locktype advisory) and in pg_stat_activity as
//     application_name "cachet-updater <vantage>".
//   - SQLite: BEGIN IMMEDIATE on the companion file <database>-decisionlock,
//     tried every 100 ms. The database file itself stays free: the other
//     probers record observations, and Load and Save commit, as usual.
//
// The holder loads, decides, writes and saves through the store as usual;
// only the lock is on its own connection. unlock may be called more than
// once.
func (s *SQL) Lock(ctx context.Context, wait time.Duration) (unlock func(), err error) {
	wait = max(wait, 0)
	cctx, cancel := context.WithTimeout(ctx, wait+s.timeout)
	defer cancel()
	var release func()
	switch s.driver {
	case DriverSQLite:
		release, err = s.lockSQLite(cctx, wait)
	default:
		release, err = s.lockServer(cctx, wait)
	}
	if errors.Is(err, ErrLockBusy) {
		err = fmt.Errorf("%w (waited %s)", err, wait)
	}
	if err != nil {
		return nil, s.fail("taking the decision lock in", ctx, cctx, err)
	}
	var once sync.Once
	return func() { once.Do(release) }, nil
}

// lockServer takes the lock on MySQL or PostgreSQL.
func (s *SQL) lockServer(ctx context.Context, wait time.Duration) (release func(), err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var try func() (bool, error)
	var unlockSQL string
	var unlockArg any
	if s.driver == DriverMySQL {
		try = func() (bool, error) { return s.mysqlTryLock(ctx, conn, "decide") }
		unlockSQL, unlockArg = `SELECT RELEASE_LOCK(LEFT(CONCAT(?, COALESCE(DATABASE(), '')), 64))`, s.prefix+"decide@"
	} else {
		key, err := s.pgLockKey(ctx, conn, "decide")
		if err != nil {
			discard(conn)
			return nil, err
		}
		try = func() (bool, error) {
			var got bool
			err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got)
			return got, err
		}
		unlockSQL, unlockArg = `SELECT pg_advisory_unlock($1)`, key
	}
	if err := poll(ctx, wait, try); err != nil {
		discard(conn)
		return nil, err
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		// Closing the connection releases the lock anyway; releasing it
		// first tells the server at once.
		conn.ExecContext(uctx, unlockSQL, unlockArg)
		discard(conn)
	}, nil
}

// lockSQLite takes the lock on the companion file: an immediate transaction
// there, held until release.
func (s *SQL) lockSQLite(ctx context.Context, wait time.Duration) (release func(), err error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: s.lockPath}).EscapedPath())
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	err = poll(ctx, wait, func() (bool, error) {
		_, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
		var liteErr *sqlite.Error
		if errors.As(err, &liteErr) && liteErr.Code()&0xff == sqlite3.SQLITE_BUSY {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("lock file %s: %w", s.lockPath, err)
	}
	return func() {
		conn.ExecContext(context.Background(), `ROLLBACK`)
		conn.Close()
		db.Close()
	}, nil
}

// poll calls try until it returns true, wait has passed (ErrLockBusy) or
// ctx ends.
func poll(ctx context.Context, wait time.Duration, try func() (bool, error)) error {
	deadline := time.Now().Add(wait)
	for {
		got, err := try()
		if err != nil {
			return err
		}
		if got {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ErrLockBusy
		}
		t := time.NewTimer(min(left, lockPollEvery))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// discard closes conn instead of returning it to the pool: a session that
// may hold a lock must not serve anyone else.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
