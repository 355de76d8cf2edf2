// Package probe sends one HTTP request to a server and reports what
// happened: the final status code, the latency, and for failures a short
// error class (timeout, refused, reset, dns, tls, redirects, canceled, error).
//
// Each probe is one goroutine and one connection: dial, TLS handshake for
// https, one HTTP/1.1 request with "Connection: close", the response head
// (at most 64 KiB) and at most MaxBody of the body, then close. net/http
// writes the request and parses the answer (http.Request.Write,
// http.ReadResponse); the connection handling is our own, because a probe
// needs none of net/http's Transport (connection pools, keep-alive, HTTP/2,
// proxies), and at ten thousand servers its two goroutines and buffers per
// connection cost a third of a run's CPU and a fifth of its memory
// (docs/benchmarks.md). HTTPS offers only HTTP/1.1 (ALPN), which every
// HTTP/2 server also speaks.
//
// One deadline, taken when the probe starts, covers name resolution,
// connecting, the handshake, the response headers and the body alike;
// canceling the caller's context ends a probe at once (ClassCanceled, not a
// timeout). Probes never use a proxy or the environment.
//
// A probe sends only the User-Agent and Accept headers: nothing the caller
// holds for other services (such as the Cachet token) can reach a probed
// server. The one exception is userinfo written into a target's URL
// (https://user:pass@host/), which becomes basic auth for that URL's server
// because the operator asked for it there; a redirect to another host
// carries no credentials.
//
// The package knows nothing about Cachet or user reports; it only observes.
package probe
