package cli

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunCertChecks: cert_expiry looks at the configured URL's own
// certificate as well as the last hop's after a redirect, and an expired or
// not yet valid certificate warns under tls_skip_verify too.
func TestRunCertChecks(t *testing.T) {
	now := time.Now()
	cert := func(cn string, notBefore, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	}
	fine := tlsServer(t, cert("fine.test", now.Add(-time.Hour), now.Add(90*24*time.Hour)), okHandler)
	expiring := tlsServer(t, cert("expiring.test", now.Add(-time.Hour), now.Add(3*24*time.Hour)), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fine.URL+"/", http.StatusFound)
	})
	future := tlsServer(t, cert("future.test", now.Add(48*time.Hour), now.Add(90*24*time.Hour)), okHandler)
	expired := tlsServer(t, cert("expired.test", now.Add(-10*24*time.Hour), now.Add(-24*time.Hour)), okHandler)
	fleet := []fleetServer{{"Redirected", 1, "s1", 1, nil, ""}, {"Future", 2, "s2", 1, nil, ""}, {"Expired", 3, "s3", 1, nil, ""}, {"Fine", 4, "s4", 1, nil, ""}}
	f := newFixture(t, fleet, `{}`, "")
	skip := "/\n    tls_skip_verify: true"
	f.setURLs(expiring.URL+skip, future.URL+skip, expired.URL+skip, fine.URL+skip)

	r := f.run(context.Background(), "run", "--dry-run")
	for _, want := range []string{
		"warning: the TLS certificate of Redirected expires",
		"warning: the TLS certificate of Future is not valid before",
		"warning: the TLS certificate of Expired expires",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the table lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "certificate of Fine") {
		t.Errorf("a certificate valid for 90 days warns:\n%s", r.out)
	}

	r = f.run(context.Background(), "run", "--dry-run", "--only", "Redirected")
	if !strings.Contains(r.out, "CN=expiring.test") || !strings.Contains(r.out, "CN=fine.test") {
		t.Errorf("--only does not show both certificates of the redirect:\n%s", r.out)
	}

	r = f.run(context.Background(), "run", "--dry-run", "-o", "json")
	var doc RunJSON
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	for i, want := range []bool{true, true, true, false} {
		if got := doc.Rows[i].Probe.CertExpiring; got != want {
			t.Errorf("%s: cert_expiring %v, want %v", doc.Rows[i].Server, got, want)
		}
	}
}
