package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/proxer/cachet-updater/internal/bounded"
	"github.com/proxer/cachet-updater/internal/status"
)

func checkNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

// TestSQLDatabaseDown: a database that does not answer is a clear error
// naming the driver, without the DSN or its password.
func TestSQLDatabaseDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String() // nothing listens there once closed
	l.Close()
	for driver, dsn := range map[string]string{
		"mysql":    "cu:s3cret-pw@tcp(" + addr + ")/cachet?parseTime=true",
		"postgres": "postgres://cu:s3cret-pw@" + addr + "/cachet?sslmode=disable&connect_timeout=5",
		"sqlite":   filepath.Join(t.TempDir(), "no", "such", "dir", "state.db"),
	} {
		_, err := OpenSQL(context.Background(), SQLOptions{Driver: driver, DSN: dsn, Timeout: testTimeout})
		hint := "check that the " + driver + " database is running and reachable, and the DSN"
		if driver == "sqlite" {
			hint = "unable to open database file (14); check that the database file's directory exists and that this user may write there"
		}
		checkError(t, err, "connecting to state database ("+driver+"): ", hint)
		checkNoSecret(t, err, dsn, "s3cret-pw")
	}
}

// proxy forwards loopback connections to a database, and fails in one of
// two ways. cutAfter: once armed, having forwarded that many bytes from the
// clients it closes every connection and refuses new ones (the database
// goes away mid-statement). holdCommit: once a client sent COMMIT it holds
// the database's answers back and closes the connection after holdCommit
// (the commit lands, its answer never arrives).
type proxy struct {
	l          net.Listener
	upstream   string
	cutAfter   int64
	holdCommit time.Duration
	armed      atomic.Bool
	sent       atomic.Int64
	mu         sync.Mutex
	conns      []net.Conn
}

// viaProxy returns b's DSN pointed at a proxy p to the database.
func viaProxy(t *testing.T, b backend, p *proxy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.l = l
	t.Cleanup(p.close)
	var dsn string
	if b.driver == "mysql" {
		cfg, err := mysql.ParseDSN(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		p.upstream, cfg.Addr = cfg.Addr, l.Addr().String()
		dsn = cfg.FormatDSN()
	} else {
		u, err := url.Parse(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		p.upstream, u.Host = u.Host, l.Addr().String()
		dsn = u.String()
	}
	go p.serve()
	return dsn
}

func (p *proxy) serve() {
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
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		var committed atomic.Bool
		go p.pipe(up, c, true, &committed)
		go p.pipe(c, up, false, &committed)
	}
}

func (p *proxy) pipe(dst, src net.Conn, fromClient bool, committed *atomic.Bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && fromClient && p.cutAfter > 0 && p.armed.Load() && p.sent.Add(int64(n)) > p.cutAfter {
			p.close()
			return
		}
		if n > 0 && fromClient && p.holdCommit > 0 && strings.Contains(strings.ToLower(string(buf[:n])), "commit") && !committed.Swap(true) {
			time.AfterFunc(p.holdCommit, func() { src.Close(); dst.Close() })
		}
		if n > 0 && (fromClient || !committed.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// bigState is a state large enough that saving it takes many packets.
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

// TestSQLSaveWithoutAnswer: the database goes away in the middle of a
// Save: the error says so and the previous state is whole. Or the database
// commits a Save but its answer never comes back within the timeout: Save
// must not say the previous state is unchanged, but that it may have been
// saved.
func TestSQLSaveWithoutAnswer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == "sqlite" {
			t.Skip("a file does not go away, and answers its commit; TestSQLiteSaveBusy covers a Save that cannot finish")
		}
		direct := b.fresh(t, "fra1")
		before := bigState(2000, status.Operational)
		if err := direct.Save(context.Background(), before); err != nil {
			t.Fatal(err)
		}
		open := func(p *proxy, timeout time.Duration) (*SQL, string) {
			dsn := viaProxy(t, b, p)
			s, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: dsn, Timeout: timeout, TablePrefix: direct.TablePrefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s, dsn
		}

		cut := &proxy{cutAfter: 64 << 10}
		s, dsn := open(cut, testTimeout)
		cut.armed.Store(true)
		err := s.Save(context.Background(), bigState(3000, status.MajorOutage))
		checkError(t, err, "saving state database ("+b.driver+"): ", "(the previous state is unchanged)")
		checkNoSecret(t, err, dsn)
		if cut.sent.Load() <= cut.cutAfter {
			t.Fatalf("the proxy forwarded only %d bytes: Save did not reach the cut", cut.sent.Load())
		}
		if after, err := direct.Load(context.Background()); err != nil || !reflect.DeepEqual(after, before) {
			t.Errorf("after the broken Save: %d components, %v; want the previous %d", len(after.Components), err, len(before.Components))
		}

		s, dsn = open(&proxy{holdCommit: 3 * time.Second}, time.Second)
		want := bigState(5, status.MajorOutage)
		err = s.Save(context.Background(), want)
		got, lerr := direct.Load(context.Background())
		if lerr != nil || len(got.Components) != len(want.Components) {
			t.Fatalf("the commit did not land (%v): the proxy did not hold its answer back; Save said %v", lerr, err)
		}
		if err != nil && (!errors.Is(err, bounded.ErrInDoubt) || strings.Contains(err.Error(), "unchanged") || !strings.Contains(err.Error(), "may have been saved")) {
			t.Errorf("the state was saved, but Save says: %v", err)
		}
		checkNoSecret(t, err, dsn)
	})
}
