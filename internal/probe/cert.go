package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/proxer/cachet-updater/internal/foreign"
)

// Cert is one certificate a server sent in its TLS handshake.
type Cert struct {
	Subject  string    // distinguished name, e.g. "CN=s14.example.org,O=Example", as foreign.Text shows it
	Issuer   string    // the issuer's distinguished name, likewise
	NotAfter time.Time // when it expires
}

// certs records the certificates of the last request's TLS handshake.
// resp is the final response, nil when none arrived; err is the request's
// error.
func (tr *tracker) certs(resp *http.Response, err error) []*x509.Certificate {
	if resp != nil {
		// The final response's own connection: after redirects, the last
		// server's, and none when the last hop was plain http.
		if resp.TLS == nil {
			return nil
		}
		return resp.TLS.PeerCertificates
	}
	// A certificate that failed verification (expired, unknown authority,
	// wrong name) is still the one the server shows.
	if verr, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return verr.UnverifiedCertificates
	}
	// No answer after a completed handshake: a server that accepted the
	// connection and then timed out or closed it.
	if c := tr.peerCerts.Load(); c != nil {
		return *c
	}
	return nil
}

// withCerts returns r with the chain and the leaf's expiry.
func withCerts(r Result, chain []*x509.Certificate) Result {
	if len(chain) == 0 {
		return r
	}
	r.CertExpiry = chain[0].NotAfter
	r.Certs = make([]Cert, len(chain))
	for i, c := range chain {
		r.Certs[i] = Cert{Subject: foreign.Text(c.Subject.String()), Issuer: foreign.Text(c.Issuer.String()), NotAfter: c.NotAfter}
	}
	return r
}

// tlsDone is the trace hook: it keeps the certificates of the current
// request's completed handshake.
func (tr *tracker) tlsDone(cs tls.ConnectionState, err error) {
	if err == nil {
		certs := cs.PeerCertificates
		tr.peerCerts.Store(&certs)
	}
}
