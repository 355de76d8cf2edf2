package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
)

// Foreign text (Cachet's answers, other vantages' rows, servers'
// certificates) reaches no output raw: control characters are escaped and a
// long text is cut, saying its length.

// forged is a table line a hostile text tries to print as its own.
const forged = "Stream 9  9  200 in 1ms  -  operational  unchanged"

// assertTamed fails when out holds a control character other than a line
// break, a forged table line, or more than maxOut bytes.
func assertTamed(t *testing.T, what, out string) {
	t.Helper()
	const maxOut = 16 << 10
	if strings.ContainsAny(out, "\x1b\x07\r") {
		t.Errorf("%s: a control character reached the output:\n%q", what, out[:min(len(out), 2000)])
	}
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "Stream 9") {
			t.Errorf("%s: a forged line reached the output: %q", what, line)
		}
	}
	if len(out) > maxOut {
		t.Errorf("%s: %d bytes of output, want at most %d", what, len(out), maxOut)
	}
}

// TestRunEscapesOtherVantages: another vantage's row in the shared database
// (its name and its detail) reaches the table, --only and JSON escaped and
// cut.
func TestRunEscapesOtherVantages(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "vantage:\n  name: fra1\n")
	cfg, _ := os.ReadFile(f.cfg)
	text := strings.Replace(string(cfg), "state:\n  path: state.json", "state:\n  sql:\n    driver: sqlite\n    dsn: state.db", 1)
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := f.run(context.Background(), "run"); r.code != ExitOK {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.out, r.err)
	}
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := "ams1\x1b]0;pwned\x07"
	detail := "HTTP 200\n" + forged + "\n\x1b[2J" + strings.Repeat("x", 100<<10)
	if _, err := db.Exec(`INSERT INTO cachet_updater_views (vantage, component_id, server, observed_at, outcome, status, detail)
		SELECT ?, component_id, server, observed_at, outcome, status, ? FROM cachet_updater_views WHERE vantage = 'fra1'`, name, detail); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "--dry-run"}, {"run", "--dry-run", "--only", "Stream 1"}, {"run", "--dry-run", "-o", "json"}, {"vantages"}} {
		r := f.run(context.Background(), args...)
		if r.code != ExitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.out, r.err)
		}
		what := strings.Join(args, " ")
		assertTamed(t, what, r.out)
		assertTamed(t, what+" (stderr)", r.err)
		if !strings.Contains(r.out, `ams1\x1b]0;pwned\a`) && !strings.Contains(r.out, `ams1\\x1b]0;pwned\\a`) {
			t.Errorf("%s: the vantage is not shown escaped:\n%s", what, r.out)
		}
		if len(args) > 2 && !strings.Contains(r.out, "bytes") {
			t.Errorf("%s: the cut detail does not say its length:\n%s", what, r.out)
		}
	}
}

// TestRunEscapesCachetErrors: a 3.x validation message with escape codes, a
// forged table line and a megabyte of text is shown escaped and cut, on
// stdout and in the log.
func TestRunEscapesCachetErrors(t *testing.T) {
	f := newFixture(t, defaultFleet(), `{}`, "")
	v3 := cachettest.NewHandlerV3(testToken)
	defer v3.Close()
	for _, c := range f.cachet.Components() {
		v3.Add(c)
	}
	msg := "The status is invalid.\n" + forged + "\n\x1b]0;pwned\x07\x1b[2J" + strings.Repeat("A", 1<<20)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(map[string]any{"message": msg, "errors": map[string][]string{"status": {msg}}})
			return
		}
		v3.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	cfg, _ := os.ReadFile(f.cfg)
	text := strings.Replace(string(cfg), f.cachet.URL(), front.URL+v3.APIPath(), 1)
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "console"} {
		for _, output := range []string{"table", "json"} {
			r := f.run(context.Background(), "run", "-o", output, "--log-format", format)
			what := "-o " + output + " --log-format " + format
			if r.code != ExitFailed || !strings.Contains(r.out, "422") {
				t.Fatalf("%s: exit %d, want %d with the 422 in the output\n%.3000s\n%.3000s", what, r.code, ExitFailed, r.out, r.err)
			}
			assertTamed(t, what, r.out)
			assertTamed(t, what+" (stderr)", r.err)
			if !strings.Contains(r.out, "bytes") {
				t.Errorf("%s: the cut message does not say its length:\n%s", what, r.out)
			}
		}
	}
}

// setURLs gives the fleet's servers without a handler these URLs, in order
// (the rest of each line may add keys).
func (f *fixture) setURLs(urls ...string) {
	f.t.Helper()
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	text := string(cfg)
	for _, u := range urls {
		text = strings.Replace(text, "    url: http://127.0.0.1:1/\n", "    url: "+u+"\n", 1)
	}
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// tlsServer is an https server on loopback answering with h that shows a
// self-signed certificate made from tmpl.
func tlsServer(t *testing.T, tmpl *x509.Certificate, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 2)} // never the address probed: verification fails unless skipped
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestRunEscapesCertificates: a certificate whose names carry escape codes
// is shown escaped by --only, and so is the error that quotes them.
func TestRunEscapesCertificates(t *testing.T) {
	evil := "evil\x1b]0;pwned\x07\n" + forged
	srv := tlsServer(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: evil, OrganizationalUnit: []string{strings.Repeat("u", 4000)}},
		NotBefore: time.Now().Add(-time.Hour),
		NotAfter:  time.Now().Add(90 * 24 * time.Hour),
		DNSNames:  []string{"evil\x1b[31m.example"},
	}, okHandler)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	fleet := []fleetServer{
		{"Skip", 1, "s1", 1, nil, ""},
		{"Verify", 2, "s2", 1, nil, ""},
	}
	f := newFixture(t, fleet, `{}`, "")
	f.setURLs(srv.URL+"/\n    tls_skip_verify: true", "https://localhost:"+port+"/")
	for _, args := range [][]string{{"run", "--dry-run", "--only", "Skip", "--only", "Verify"}, {"run", "--dry-run", "-o", "json"}} {
		r := f.run(context.Background(), args...)
		what := strings.Join(args, " ")
		assertTamed(t, what, r.out)
		assertTamed(t, what+" (stderr)", r.err)
		if args[len(args)-1] == "Verify" {
			if !strings.Contains(r.out, `CN=evil\x1b]0`) || !strings.Contains(r.out, "bytes") {
				t.Errorf("%s: the subject is not shown escaped and cut:\n%s", what, r.out)
			}
			if !strings.Contains(r.out, `evil\x1b[31m.example`) {
				t.Errorf("%s: the TLS error is not shown escaped:\n%s", what, r.out)
			}
		}
	}
}
