//go:build unix

package reports

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a named pipe in a temporary folder. Cleanup opens its write
// end once, which frees a reader stuck in open(2) if a test failed that way.
func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reports.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	return path
}

// countsWithin runs Counts and fails the test if it does not return within
// a generous bound: the point is that it returns at all.
func countsWithin(t *testing.T, ctx context.Context, src *File) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := src.Counts(ctx, testSince)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Counts did not return within 20s")
		return nil
	}
}

// A FIFO at the path blocks open(2) until a writer comes, which may be never.
func TestFileFIFORefused(t *testing.T) {
	path := mkfifo(t)
	src := newFile(t, File{Path: path})
	err := countsWithin(t, context.Background(), src)
	checkError(t, err, `reading reports from file "`+path+`": `,
		"is a named pipe (FIFO), not a regular file: point reports.source.path at the file the exporter writes")
}

func TestFileNotRegular(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tests := []struct{ path, what string }{
		{t.TempDir(), "a directory"},
		{sock, "a socket"},
		{os.DevNull, "a device"},
	}
	for _, tt := range tests {
		err := countsWithin(t, context.Background(), newFile(t, File{Path: tt.path}))
		checkError(t, err, `reading reports from file "`+tt.path+`": `, "is "+tt.what+", not a regular file: point reports.source.path")
	}
}

// A FIFO that takes the file's place between the stat and the open must not
// block the open either: O_NONBLOCK and the check of the open file catch it.
func TestFileFIFOSwappedInAfterStat(t *testing.T) {
	path := writeFile(t, "reports.json", `{"s14": 1}`)
	fifo := mkfifo(t)
	src := newFile(t, File{Path: path})
	src.open = func(name string) (*os.File, error) {
		if err := os.Rename(fifo, name); err != nil {
			return nil, err
		}
		return openNonblocking(name)
	}
	err := countsWithin(t, context.Background(), src)
	checkError(t, err, "", "is a named pipe (FIFO), not a regular file")
}

// blockingOpen makes src's open wait until the test ends, as an open on a
// hung network mount does; entered is closed when the open has begun.
func blockingOpen(t *testing.T, src *File) (entered <-chan struct{}) {
	in, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	src.open = func(name string) (*os.File, error) {
		close(in)
		<-release
		return openNonblocking(name)
	}
	return in
}

func TestFileReadTimeout(t *testing.T) {
	src := newFile(t, File{Path: writeFile(t, "reports.json", `{"s14": 1}`), Timeout: 100 * time.Millisecond})
	blockingOpen(t, src)
	err := countsWithin(t, context.Background(), src)
	checkError(t, err, "", "did not answer within the timeout of 100ms (a FIFO or a hung network mount?)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not match context.DeadlineExceeded", err)
	}
}

func TestFileReadCanceled(t *testing.T) {
	src := newFile(t, File{Path: writeFile(t, "reports.json", `{"s14": 1}`), Timeout: time.Hour})
	entered := blockingOpen(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-entered
		cancel()
	}()
	err := countsWithin(t, ctx, src)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `reading reports from file "`) {
		t.Errorf("error %v: want context.Canceled naming the file", err)
	}
}
