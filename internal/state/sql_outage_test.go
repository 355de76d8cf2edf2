package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // for Pacific/Kiritimati on machines without a zone database

	"github.com/go-sql-driver/mysql"

	"github.com/proxer/cachet-updater/internal/status"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSQLDatabaseDown: a database that does not answer is a clear error
// naming the driver, without the DSN or its password.
func TestSQLDatabaseDown(t *testing.T) {
	addr := closedPort(t)
	tests := []struct {
		driver, dsn string
	}{
		{DriverMySQL, "cu:s3cret-pw@tcp(" + addr + ")/cachet?parseTime=true"},
		{DriverPostgres, "postgres://cu:s3cret-pw@" + addr + "/cachet?sslmode=disable&connect_timeout=5"},
		{DriverSQLite, filepath.Join(t.TempDir(), "no", "such", "dir", "state.db")},
	}
	for _, tc := range tests {
		t.Run(tc.driver, func(t *testing.T) {
			s, err := OpenSQL(context.Background(), SQLOptions{Driver: tc.driver, DSN: tc.dsn, Timeout: testTimeout})
			if err == nil {
				s.Close()
			}
			hint := "check that the " + tc.driver + " database is running and reachable, and the DSN"
			if tc.driver == DriverSQLite {
				hint = "unable to open database file (14); check that the database file's directory exists and that this user may write there"
			}
			checkError(t, err, "connecting to state database ("+tc.driver+"): ", hint)
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("errors.Is(%v, ErrUnavailable) = false", err)
			}
			checkNoSecret(t, err, tc.dsn, "s3cret-pw")
		})
	}
}

// cutProxy forwards loopback connections to a database until it has
// forwarded limit bytes from the client once armed; then it closes every
// connection and refuses new ones: the database goes away mid-statement.
type cutProxy struct {
	l        net.Listener
	upstream string
	armed    atomic.Bool
	sent     atomic.Int64
	limit    int64
	mu       sync.Mutex
	conns    []net.Conn
	cut      bool
}

func newCutProxy(t *testing.T, upstream string, limit int64) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, upstream: upstream, limit: limit}
	t.Cleanup(p.close)
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(c, up); c.Close() }()
		go p.forward(up, c)
	}
}

// forward copies the client's bytes, counting them once armed.
func (p *cutProxy) forward(up, c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if p.armed.Load() && p.sent.Add(int64(n)) > p.limit {
				p.close()
				return
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			up.Close()
			return
		}
	}
}

func (p *cutProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// viaProxy returns b's DSN pointed at addr instead of the database.
func viaProxy(t *testing.T, b backend, addr string) (dsn, upstream string) {
	t.Helper()
	if b.driver == DriverMySQL {
		cfg, err := mysql.ParseDSN(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		upstream, cfg.Addr = cfg.Addr, addr
		return cfg.FormatDSN(), upstream
	}
	u, err := url.Parse(b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	upstream, u.Host = u.Host, addr
	return u.String(), upstream
}

// bigState is a state large enough that saving it takes many statements.
func bigState(n int, st status.Status) *State {
	s := &State{TokenProvedAt: t0}
	for id := 1; id <= n; id++ {
		c := s.Component(id, fmt.Sprintf("server %d", id))
		c.Record(Decision{At: t0.Add(-3 * time.Minute), Status: st}, 0)
		c.Record(Decision{At: t0, Status: st}, 0)
		c.Last, c.LastAt = st, t0
	}
	return s
}

// TestSQLDatabaseGoesAwayMidSave: the connection breaks in the middle of a
// Save; the error says so, and the previous state is whole.
func TestSQLDatabaseGoesAwayMidSave(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == DriverSQLite {
			t.Skip("a file does not go away; TestSQLiteSaveBusy covers a Save that cannot finish")
		}
		direct := b.fresh(t, "fra1")
		before := bigState(2000, status.Operational)
		if err := direct.Save(context.Background(), before); err != nil {
			t.Fatal(err)
		}

		_, upstream := viaProxy(t, b, "")
		p := newCutProxy(t, upstream, 64<<10)
		dsn, _ := viaProxy(t, b, p.addr())
		s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: dsn, Timeout: testTimeout, TablePrefix: direct.prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		p.armed.Store(true)
		err = s.Save(context.Background(), bigState(3000, status.MajorOutage))
		checkError(t, err, "saving state database ("+b.driver+"): ", "(the previous state is unchanged)")
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("errors.Is(%v, ErrUnavailable) = false", err)
		}
		checkNoSecret(t, err, dsn)
		if p.sent.Load() <= p.limit {
			t.Fatalf("the proxy forwarded only %d bytes: Save did not reach the cut", p.sent.Load())
		}

		after, err := direct.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("after the broken Save the state has %d components (component 1: %+v), want the previous %d", len(after.Components), after.Components[1], len(before.Components))
		}
	})
}

// TestSQLiteSaveBusy: a Save that cannot get the database within its
// timeout changes nothing and says why.
func TestSQLiteSaveBusy(t *testing.T) {
	b := backends(t)[0]
	direct := b.fresh(t, "fra1")
	before := bigState(10, status.Operational)
	if err := direct.Save(context.Background(), before); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: b.dsn, Timeout: 300 * time.Millisecond, TablePrefix: direct.prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Save(context.Background(), bigState(20, status.MajorOutage))
	checkError(t, err, "saving state database (sqlite): ", "(the previous state is unchanged)")
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	after, err := direct.Load(context.Background())
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Errorf("after the failed Save: %d components, %v; want the previous %d", len(after.Components), err, len(before.Components))
	}
}

// withMySQLLoc returns dsn with loc set to zone and parseTime off: the
// store must read and write UTC times whatever the DSN says.
func withMySQLLoc(t *testing.T, dsn, zone string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Loc, cfg.ParseTime = loc, false
	return cfg.FormatDSN()
}

// holdProxy forwards loopback connections to a database, but once a client
// has sent COMMIT it holds the database's answer back for hold, then closes
// that connection: the commit lands, its answer never arrives.
type holdProxy struct {
	l        net.Listener
	upstream string
	hold     time.Duration
}

func newHoldProxy(t *testing.T, upstream string, hold time.Duration) *holdProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{l: l, upstream: upstream, hold: hold}
	t.Cleanup(func() { l.Close() })
	go p.serve()
	return p
}

func (p *holdProxy) addr() string { return p.l.Addr().String() }

func (p *holdProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		var committed atomic.Bool
		go func() { // the client's bytes, watched for COMMIT
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 && strings.Contains(strings.ToLower(string(buf[:n])), "commit") {
					committed.Store(true)
					time.AfterFunc(p.hold, func() { c.Close(); up.Close() })
				}
				if n > 0 {
					if _, werr := up.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					up.Close()
					return
				}
			}
		}()
		go func() { // the database's bytes, held back after a COMMIT
			buf := make([]byte, 64<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 && !committed.Load() {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					c.Close()
					return
				}
			}
		}()
	}
}

// TestSQLCommitWithoutAnswer: the database commits a Save but its answer
// never comes back within the timeout. The Save must not say that the
// previous state is unchanged (it is not): the state may have been saved,
// and the error says so.
func TestSQLCommitWithoutAnswer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == DriverSQLite {
			t.Skip("a local file answers its commit")
		}
		direct := b.fresh(t, "fra1")
		if err := direct.Save(context.Background(), bigState(3, status.Operational)); err != nil {
			t.Fatal(err)
		}
		_, upstream := viaProxy(t, b, "")
		const timeout = time.Second
		p := newHoldProxy(t, upstream, 3*timeout)
		dsn, _ := viaProxy(t, b, p.addr())
		s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: dsn, Timeout: timeout, TablePrefix: direct.prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()

		want := bigState(5, status.MajorOutage)
		err = s.Save(context.Background(), want)
		got, lerr := direct.Load(context.Background())
		if lerr != nil {
			t.Fatal(lerr)
		}
		if len(got.Components) != len(want.Components) {
			t.Fatalf("the commit did not land (%d components): the proxy did not hold its answer back; Save said %v", len(got.Components), err)
		}
		if err != nil && (!errors.Is(err, ErrInDoubt) || strings.Contains(err.Error(), "unchanged") || !strings.Contains(err.Error(), "may have been saved")) {
			t.Errorf("the state was saved, but Save says: %v", err)
		}
		checkNoSecret(t, err, dsn)
	})
}
