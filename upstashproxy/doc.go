// Package upstashproxy is devapi's HTTP proxy for tools that hard-code
// https://api.upstash.com: a client whose HTTPS_PROXY names it sends
// CONNECT api.upstash.com:443, and the proxy answers that connection itself,
// with a certificate for the name issued from devapi's CA and devapi's API
// behind it (HTTP/1.1 or h2, as the client offers). CONNECT to any other
// host is tunnelled unchanged, unless the proxy is told to intercept only.
//
// Requests served through the proxy carry a mark in their context
// (FromProxy); LogHandler adds via=proxy to every log record made with
// such a context, so the API's own request lines say how they came.
package upstashproxy
