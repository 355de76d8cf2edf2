package benchfleet

import (
	"errors"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// BareCounts is what Bare saw.
type BareCounts struct {
	Answered, TimedOut, Failed int
}

// Bare is the machine's floor for a fleet: the least any prober has to do
// per server (dial, send a request line, read the first bytes of the
// answer, close) and nothing else: no HTTP parsing, no config, no Cachet.
// cmd/benchfleet runs it in a process of its own, as it runs the real
// binary, so that its wall time shows what the machine can do with the
// fleet on the same cores.
func Bare(urls []string, timeout time.Duration, concurrency int) BareCounts {
	var answered, timedOut, failed atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(concurrency, 1), len(urls)) {
		wg.Go(func() {
			var buf [512]byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				switch err := bareProbe(urls[i], timeout, buf[:]); {
				case err == nil:
					answered.Add(1)
				case errors.Is(err, os.ErrDeadlineExceeded):
					timedOut.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return BareCounts{int(answered.Load()), int(timedOut.Load()), int(failed.Load())}
}

func bareProbe(raw string, timeout time.Duration, buf []byte) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	conn, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte("GET " + u.Path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	_, err = conn.Read(buf)
	return err
}
