// Package probe sends one HTTP request to a server and reports what
// happened: the final status code, the latency, and for failures a short
// error class (timeout, refused, reset, dns, tls, redirects, canceled, error).
//
// A Prober is stateless between probes apart from its two shared
// http.Transports (one verifying TLS, one not). Each probe's deadline comes
// from a context derived from the caller's, so the deadline covers name
// resolution, connecting, the TLS handshake, the response headers and the
// (capped) body alike. Keep-alives are off because each server is probed once
// per run, and the transports never use a proxy or the environment.
//
// A probe sends only the User-Agent and Accept headers: nothing the caller
// holds for other services (such as the Cachet token) can reach a probed
// server. The one exception is userinfo written into a target's URL
// (https://user:pass@host/), which net/http turns into basic auth for that
// server because the operator asked for it there.
//
// The package knows nothing about Cachet or user reports; it only observes.
package probe
