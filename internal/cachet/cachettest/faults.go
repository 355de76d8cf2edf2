package cachettest

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Fault is a failure the fake injects instead of answering normally.
type Fault int

// Faults.
const (
	FaultNone      Fault = iota
	Fault500             // 500 with Cachet's JSON error body (the mode's shape)
	Fault502HTML         // 502 with an HTML page (a proxy in front)
	FaultHTML200         // 200 with an HTML page
	FaultTruncated       // 200 with truncated JSON
	FaultHang            // no answer until the client gives up
	FaultClose           // the connection is closed without an answer
	Fault429             // 429 with Retry-After: 1 (3.x: Laravel's body and X-RateLimit headers)
	// FaultStored500 carries the request out, then answers 500 (Cachet
	// stored the incident, then failed, e.g. sending the mail).
	FaultStored500
	// FaultDatabase is a database error (a lock, a lost connection):
	// nothing is stored, and 2.x answers 400 "bad syntax" (its controllers
	// turn a QueryException into a BadRequestHttpException), 3.x 500.
	FaultDatabase
)

// FailNext makes the next n requests (only writes if onlyWrites) fail with
// f. n < 0 fails every matching request until FailNext(FaultNone, 0, false).
func (s *Server) FailNext(f Fault, n int, onlyWrites bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == FaultNone || n == 0 {
		f, n = FaultNone, 0
	}
	s.fault, s.faultLeft, s.faultWrites = f, n, onlyWrites
}

func (s *Server) takeFaultLocked(write bool) Fault {
	if s.fault == FaultNone || s.faultLeft == 0 || (s.faultWrites && !write) {
		return FaultNone
	}
	if s.faultLeft > 0 {
		s.faultLeft--
	}
	return s.fault
}

const (
	html502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	html200 = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Status</title></head>\n<body><div class=\"status-page\"><h1>All systems operational</h1></div></body>\n</html>\n"
	jsonCut = `{"meta":{"pagination":{"total":45,"count":20,"per_page":20,"current_page":1,"total_pages":3}},"data":[{"id":1,"name":"Trunc`
)

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case Fault500:
		if s.mode == Cachet3 {
			writeMessage(w, http.StatusInternalServerError, msg500)
			return
		}
		writeError(w, http.StatusInternalServerError, detail500, nil)
	case Fault502HTML:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, html502)
	case FaultHTML200:
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, html200)
	case FaultTruncated:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, jsonCut)
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case FaultClose:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the stream without logging
	case FaultDatabase:
		if s.mode == Cachet3 {
			writeMessage(w, http.StatusInternalServerError, msg500)
			return
		}
		writeError(w, http.StatusBadRequest, detail400, nil)
	case Fault429:
		w.Header().Set("Retry-After", "1")
		if s.mode == Cachet3 {
			w.Header().Set("X-RateLimit-Limit", "300")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
			writeMessage(w, http.StatusTooManyRequests, msg429)
			return
		}
		writeError(w, http.StatusTooManyRequests, detail429, nil)
	default:
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("unknown fault %d", f), nil)
	}
}
