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
	Subject   string    // distinguished name, e.g. "CN=s14.example.org,O=Example", as foreign.Text shows it
	Issuer    string    // the issuer's distinguished name, likewise
	NotBefore time.Time // when it becomes valid
	NotAfter  time.Time // when it expires
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

// withCerts returns r with the final hop's chain, the configured URL's own
// leaf when a redirect led to another one, and their leaves' validity.
func (tr *tracker) withCerts(r Result, chain []*x509.Certificate) Result {
	var leaves []*x509.Certificate
	if len(chain) > 0 {
		leaves = append(leaves, chain[0])
		r.Certs = make([]Cert, len(chain))
		for i, c := range chain {
			r.Certs[i] = newCert(c)
		}
	}
	if first := tr.firstCerts.Load(); first != nil && len(*first) > 0 && (len(chain) == 0 || !(*first)[0].Equal(chain[0])) {
		c := newCert((*first)[0])
		r.URLCert = &c
		leaves = append(leaves, (*first)[0])
	}
	for _, c := range leaves {
		if r.CertExpiry.IsZero() || c.NotAfter.Before(r.CertExpiry) {
			r.CertExpiry = c.NotAfter
		}
		if c.NotBefore.After(r.CertNotBefore) {
			r.CertNotBefore = c.NotBefore
		}
	}
	return r
}

func newCert(c *x509.Certificate) Cert {
	return Cert{Subject: foreign.Text(c.Subject.String()), Issuer: foreign.Text(c.Issuer.String()), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// tlsDone is the trace hook: it keeps the certificates of the current
// request's completed handshake, and those of the first request's (the
// configured URL's own server; its last handshake, after a proxy's).
func (tr *tracker) tlsDone(cs tls.ConnectionState, err error) {
	if err == nil {
		certs := cs.PeerCertificates
		tr.peerCerts.Store(&certs)
		if tr.requests.Load() == 1 {
			tr.firstCerts.Store(&certs)
		}
	}
}
