package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Classify maps an error from an HTTP request to one of the Class
// constants. It cannot tell a probe's own deadline from a canceled parent
// context (Probe can, and does so before calling it): context.Canceled is
// ClassCanceled and context.DeadlineExceeded is ClassTimeout. nil is "".
func Classify(err error) Class {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, ErrTooManyRedirects):
		return ClassRedirects
	case isLocal(err):
		return ClassLocal
	case isDNS(err):
		return ClassDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case isTLS(err):
		return ClassTLS
	case isReset(err):
		return ClassReset
	case isTimeout(err):
		return ClassTimeout
	}
	return ClassOther
}

// isLocal reports a failure of this machine, not of the server: no file
// descriptor left for a socket (EMFILE, ENFILE), no ephemeral port or
// address to connect from (EADDRNOTAVAIL), no kernel memory (ENOBUFS), no
// route out of this machine's network (ENETUNREACH, EHOSTUNREACH: its link
// or its routes are down).
func isLocal(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS, syscall.ENETUNREACH, syscall.EHOSTUNREACH} {
		if errors.Is(err, errno) {
			return true
		}
	}
	// The resolver reports a socket it could not open as text only.
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && strings.Contains(dnsErr.Err, syscall.EMFILE.Error())
}

func isDNS(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

func isTLS(err error) bool {
	var (
		recordErr    tls.RecordHeaderError
		alertErr     tls.AlertError
		verifyErr    *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		invalidErr   x509.CertificateInvalidError
		hostnameErr  x509.HostnameError
	)
	if errors.As(err, &recordErr) || errors.As(err, &alertErr) || errors.As(err, &verifyErr) ||
		errors.As(err, &authorityErr) || errors.As(err, &invalidErr) || errors.As(err, &hostnameErr) {
		return true
	}
	// crypto/tls reports most handshake failures (no shared cipher suite or
	// version, bad signature, ...) as plain errors with this prefix.
	// An https:// URL pointing at a plain-HTTP port fails the handshake too.
	msg := err.Error()
	return strings.Contains(msg, "tls: ") || strings.Contains(msg, "server gave HTTP response to HTTPS client")
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
