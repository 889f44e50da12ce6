// Package proxy calls users' backends the way Centrifugo's HTTP proxy does,
// so that backends written for Centrifugo work unmodified: connect, refresh,
// subscribe, sub_refresh, publish and rpc events are POSTed as JSON to a
// configured endpoint, and the backend answers with a result, an error or a
// disconnect (../../../shared/reference/centrifugo-protocol.md section 9;
// Centrifugo v6.9.1 internal/proxyproto/proxy.proto and internal/proxy).
//
// A Proxy bounds how many calls run at once on the node; callers run calls
// off the frame workers (a slow backend must not hold one) and queue the
// client's reply when the call returns. This package does no I/O but the
// HTTP call itself.
package proxy
