package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// TestSQLLock: one holder at a time, across stores (as across machines);
// the second gets ErrLockBusy after its wait, then the lock once the first
// lets go. Meanwhile the holder loads and saves and the others record their
// observations as usual.
func TestSQLLock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		fra := b.fresh(t, "fra1")
		ams := b.open(t, fra.prefix, "ams1")

		unlock, err := fra.Lock(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		const wait = 300 * time.Millisecond
		start := time.Now()
		_, err = ams.Lock(ctx, wait)
		waited := time.Since(start)
		checkError(t, err, "taking the decision lock in state database ("+b.driver+"): ", "another run holds the decision lock (waited 300ms)")
		if !errors.Is(err, ErrLockBusy) {
			t.Errorf("errors.Is(%v, ErrLockBusy) = false", err)
		}
		if waited < wait {
			t.Errorf("gave up after %s, before its wait of %s", waited, wait)
		}
		if h, err := ams.Check(ctx); err != nil || !h.LockBusy {
			t.Errorf("Check while held = %+v, %v; want LockBusy", h, err)
		}

		// Nothing else waits on the lock.
		_, obs := fleetObservations(10, t0, 0)
		if err := ams.Observe(ctx, "ams1", obs); err != nil {
			t.Errorf("Observe by another vantage while the lock is held: %v", err)
		}
		if err := fra.Save(ctx, sample()); err != nil {
			t.Errorf("Save by the holder: %v", err)
		}
		if _, err := fra.Load(ctx); err != nil {
			t.Errorf("Load by the holder: %v", err)
		}

		unlock()
		unlock() // twice is harmless
		again, err := ams.Lock(ctx, testTimeout)
		if err != nil {
			t.Fatalf("Lock after unlock: %v", err)
		}
		// And the same store cannot take it twice.
		if _, err := ams.Lock(ctx, 0); !errors.Is(err, ErrLockBusy) {
			t.Errorf("second Lock by the holder's store: %v, want ErrLockBusy", err)
		}
		again()
		if h, err := fra.Check(ctx); err != nil || h.LockBusy {
			t.Errorf("Check after unlock = %+v, %v", h, err)
		}
	})
}

// TestSQLLockWaits: a waiting run gets the lock as soon as the holder lets
// go within its wait.
func TestSQLLockWaits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		fra := b.fresh(t, "fra1")
		ams := b.open(t, fra.prefix, "ams1")
		unlock, err := fra.Lock(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(200*time.Millisecond, unlock)
		got, err := ams.Lock(ctx, testTimeout)
		if err != nil {
			t.Fatalf("Lock while the holder lets go: %v", err)
		}
		got()
	})
}

// TestSQLLockCanceled: a canceled context ends the wait.
func TestSQLLockCanceled(t *testing.T) {
	b := backends(t)[0]
	fra := b.fresh(t, "fra1")
	unlock, err := fra.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = b.open(t, fra.prefix, "ams1").Lock(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Lock = %v, want context.Canceled", err)
	}
}

// The helper process: it takes the lock, says so, and waits to be killed.
const lockHelperEnv = "CU_STATE_TEST_LOCK_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(lockHelperEnv); spec != "" {
		os.Exit(holdLock(spec))
	}
	os.Exit(m.Run())
}

func holdLock(spec string) int {
	driver, rest, _ := strings.Cut(spec, "|")
	prefix, dsn, _ := strings.Cut(rest, "|")
	s, err := OpenSQL(context.Background(), SQLOptions{Driver: driver, DSN: dsn, Timeout: testTimeout, TablePrefix: prefix, Vantage: "helper"})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if _, err := s.Lock(context.Background(), 0); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	return 0
}

// TestSQLLockReleasedWhenHolderDies: a run killed while holding the lock
// does not keep the others from deciding.
func TestSQLLockReleasedWhenHolderDies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.fresh(t, "fra1")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), lockHelperEnv+"="+b.driver+"|"+s.prefix+"|"+b.dsn)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "locked\n" {
			t.Fatalf("helper said %q, %v", line, err)
		}
		if _, err := s.Lock(context.Background(), 0); !errors.Is(err, ErrLockBusy) {
			t.Fatalf("Lock while the helper holds it: %v, want ErrLockBusy", err)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		unlock, err := s.Lock(context.Background(), testTimeout)
		if err != nil {
			t.Fatalf("Lock after the holder died: %v", err)
		}
		unlock()
	})
}

// TestSQLiteLockKeepsDatabaseFree: the SQLite lock is on its companion
// file, so a Save by a store that does not hold it commits at once.
func TestSQLiteLockKeepsDatabaseFree(t *testing.T) {
	b := backends(t)[0]
	fra := b.fresh(t, "fra1")
	unlock, err := fra.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(b.dsn + "-decisionlock"); err != nil {
		t.Errorf("companion lock file: %v", err)
	}
	ams, err := OpenSQL(context.Background(), SQLOptions{Driver: b.driver, DSN: b.dsn, Timeout: 500 * time.Millisecond, TablePrefix: fra.prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer ams.Close()
	st := &State{}
	st.Component(14, "Stream 1").Record(Decision{At: t0, Status: status.MajorOutage}, 0)
	if err := ams.Save(context.Background(), st); err != nil {
		t.Errorf("Save while another store holds the lock: %v", err)
	}
}
