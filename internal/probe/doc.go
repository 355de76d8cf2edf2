// Package probe sends one HTTP request to a server and reports what
// happened: the final status code, the latency, and for failures a short
// error class (timeout, refused, reset, dns, tls, redirects, canceled,
// local, error).
//
// A Prober is built once per run and speaks through net/http with
// Transports of its own (never http.DefaultTransport): one for each
// combination a target can ask for (certificate checks on or off, the
// environment's proxy or none), with keep-alives off, so every probe opens
// one connection and closes it. HTTPS may negotiate HTTP/2; plain http is
// HTTP/1.1. net/http does the rest: IDNA host names (dialled and sent as
// punycode), response heads of at most 64 KiB, informational (1xx)
// answers skipped. A server that sends only 1xx answers has given no final
// answer: that is a failure (class error), not its status code. At most
// MaxBody of a body is read.
//
// A target with ExpectBody has the body of its final answer matched
// against that regular expression (any status code): the first MaxBody
// bytes, gunzipped first when the server sent Content-Encoding: gzip (at
// most MaxBody of decompressed data, however small the compressed body).
// A body that does not match, a broken gzip stream, an encoding other than
// gzip and a HEAD probe (no body) all give an answer with
// Result.BodyMismatch set; the connection failing while the body is read
// is a failure with its class, as without ExpectBody.
//
// One deadline, Target.Timeout as the request context's deadline, covers
// name resolution, connecting, the handshake, the response headers and the
// body alike; a timeout says which of them it interrupted. Canceling the
// caller's context ends a probe at once (ClassCanceled, not a timeout). A
// failure of this machine rather than the server's (no file descriptor or
// port left) is ClassLocal, so that it never marks a server down.
//
// An https probe records the certificates its last request's server sent
// (Result.Certs, leaf first, and the leaf's expiry in Result.CertExpiry):
// from the final response's connection when an answer arrived (any
// status), else from a handshake that completed before the failure, or
// from the certificate check that failed (an expired certificate is shown
// as it is). A last hop over plain http records none.
//
// Redirects are followed only for targets that ask for it, at most
// MaxRedirects; otherwise the 3xx is the answer.
//
// A probe sends only the User-Agent and Accept headers (and
// Accept-Encoding: gzip when it checks the body): nothing the caller
// holds for other services (such as the Cachet token) can reach a probed
// server, and a redirect carries no Referer. The one exception is userinfo
// written into a target's URL (https://user:pass@host/), which becomes
// basic auth for that URL's host and port only, because the operator asked
// for it there; a redirect anywhere else, subdomains included, carries no
// credentials. The password appears in no error and no Result.
//
// The package knows nothing about Cachet or user reports; it only observes.
package probe
