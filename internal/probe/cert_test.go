package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testCA issues certificates for loopback servers.
type testCA struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Root CA", Organization: []string{"cachet-updater tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, der: der, key: key}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issue returns a certificate for 127.0.0.1 named cn that expires at
// notAfter, with the CA's certificate after it in the chain.
func (ca *testCA) issue(t *testing.T, cn string, notAfter time.Time) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.der}, PrivateKey: key, Leaf: leaf}, leaf
}

// newCertServer is an HTTPS server on loopback that shows cert.
func newCertServer(t *testing.T, cert tls.Certificate, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are part of the tests
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestProbeCerts(t *testing.T) {
	ca := newTestCA(t)
	// Whole seconds: the certificate keeps no more.
	expiry := time.Now().Add(3 * 24 * time.Hour).Truncate(time.Second)
	cert, leaf := ca.issue(t, "s14.test", expiry)
	otherCert, other := ca.issue(t, "s15.test", expiry.Add(24*time.Hour))

	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	// /hang answers only when the test ends: waiting for the request's
	// context answers 200 whenever the server sees the connection go first.
	release := make(chan struct{})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-release })
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	tlsOther := newCertServer(t, otherCert, mux)
	mux.HandleFunc("/to-plain", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, plain.URL+"/ok", http.StatusFound) })
	mux.HandleFunc("/to-plain-hang", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, plain.URL+"/hang", http.StatusFound) })
	mux.HandleFunc("/to-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, tlsOther.URL+"/ok", http.StatusFound)
	})
	tlsSrv := newCertServer(t, cert, mux)
	t.Cleanup(func() { close(release) }) // before the servers close: Close waits for the handlers
	mux.HandleFunc("/to-tls", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, tlsSrv.URL+"/ok", http.StatusFound) })

	p := New("")
	tests := []struct {
		name      string
		target    target
		wantCode  int
		wantClass Class
		wantLeaf  *x509.Certificate // nil: no certificates
		wantURL   *x509.Certificate // the configured URL's leaf, when a redirect led elsewhere
	}{
		{name: "200", target: target{URL: tlsSrv.URL + "/ok", TLSSkipVerify: true}, wantCode: 200, wantLeaf: leaf},
		{name: "error status", target: target{URL: tlsSrv.URL + "/503", TLSSkipVerify: true}, wantCode: 503, wantLeaf: leaf},
		{name: "timeout after the handshake", target: target{URL: tlsSrv.URL + "/hang", TLSSkipVerify: true, Timeout: 300 * time.Millisecond},
			wantClass: ClassTimeout, wantLeaf: leaf},
		{name: "closed after the handshake", target: target{URL: tlsSrv.URL + "/reset", TLSSkipVerify: true}, wantClass: ClassReset, wantLeaf: leaf},
		{name: "unknown authority", target: target{URL: tlsSrv.URL + "/ok"}, wantClass: ClassTLS, wantLeaf: leaf},
		{name: "plain http", target: target{URL: plain.URL + "/ok"}, wantCode: 200},
		{name: "https redirected to http", target: target{URL: tlsSrv.URL + "/to-plain", TLSSkipVerify: true, FollowRedirects: true}, wantCode: 200, wantURL: leaf},
		{name: "https redirected to http that times out", target: target{URL: tlsSrv.URL + "/to-plain-hang", TLSSkipVerify: true, FollowRedirects: true, Timeout: 300 * time.Millisecond},
			wantClass: ClassTimeout, wantURL: leaf},
		{name: "https redirect not followed", target: target{URL: tlsSrv.URL + "/to-plain", TLSSkipVerify: true}, wantCode: 302, wantLeaf: leaf},
		{name: "http redirected to https", target: target{URL: plain.URL + "/to-tls", TLSSkipVerify: true, FollowRedirects: true}, wantCode: 200, wantLeaf: leaf},
		{name: "https redirected to another https", target: target{URL: tlsSrv.URL + "/to-other", TLSSkipVerify: true, FollowRedirects: true},
			wantCode: 200, wantLeaf: other, wantURL: leaf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := p.Probe(context.Background(), tt.target.server())
			expect(t, r, tt.wantCode, tt.wantClass)
			// The first expiry and the last start of the leaves.
			var expiry, notBefore time.Time
			for _, c := range []*x509.Certificate{tt.wantLeaf, tt.wantURL} {
				if c != nil && (expiry.IsZero() || c.NotAfter.Before(expiry)) {
					expiry = c.NotAfter
				}
				if c != nil && c.NotBefore.After(notBefore) {
					notBefore = c.NotBefore
				}
			}
			if !r.CertExpiry.Equal(expiry) || !r.CertNotBefore.Equal(notBefore) {
				t.Errorf("CertExpiry = %v, CertNotBefore = %v; want %v, %v", r.CertExpiry, r.CertNotBefore, expiry, notBefore)
			}
			if (tt.wantURL == nil) != (r.URLCert == nil) || (r.URLCert != nil && r.URLCert.Subject != "CN="+tt.wantURL.Subject.CommonName) {
				t.Errorf("URLCert = %+v, want %v", r.URLCert, tt.wantURL)
			}
			if tt.wantLeaf == nil {
				if r.Certs != nil {
					t.Errorf("Certs %v; want none", r.Certs)
				}
				return
			}
			want := []Cert{
				{Subject: "CN=" + tt.wantLeaf.Subject.CommonName, Issuer: "CN=Test Root CA,O=cachet-updater tests", NotAfter: tt.wantLeaf.NotAfter},
				{Subject: "CN=Test Root CA,O=cachet-updater tests", Issuer: "CN=Test Root CA,O=cachet-updater tests", NotAfter: ca.cert.NotAfter},
			}
			if len(r.Certs) != len(want) {
				t.Fatalf("Certs = %+v, want %+v", r.Certs, want)
			}
			for i := range want {
				if r.Certs[i].Subject != want[i].Subject || r.Certs[i].Issuer != want[i].Issuer || !r.Certs[i].NotAfter.Equal(want[i].NotAfter) {
					t.Errorf("Certs[%d] = %+v, want %+v", i, r.Certs[i], want[i])
				}
			}
		})
	}
	if !leaf.NotAfter.Equal(expiry) {
		t.Errorf("the test certificate expires at %v, not %v", leaf.NotAfter, expiry)
	}
}
