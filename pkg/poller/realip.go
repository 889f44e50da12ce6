package poller

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of addresses whose X-Forwarded-For and
// X-Real-IP headers are believed. Anyone can send those headers; only a
// proxy you run (nginx in front of the gateway) can be trusted to set them.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8", "::1/128") and single
// addresses ("127.0.0.1").
func ParseTrustedProxies(entries []string) (*TrustedProxies, error) {
	t := &TrustedProxies{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", e, err)
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR", e)
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return t, nil
}

// Contains reports whether a is a trusted proxy.
func (t *TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP returns the client's address for a request that arrived from
// peer. When peer is a trusted proxy, X-Forwarded-For is read from the right
// (the entry the nearest proxy added) and the first address that is not a
// trusted proxy is the client: entries further left were written by the
// client and can be forged. Without X-Forwarded-For, X-Real-IP is used. A
// malformed entry stops the walk at the last address known to be genuine.
func (t *TrustedProxies) clientIP(peer netip.Addr, r *request) netip.Addr {
	peer = peer.Unmap()
	if !t.Contains(peer) {
		return peer
	}
	candidate := peer
	walked := false
	for i := r.nForwarded - 1; i >= 0; i-- {
		list := r.forwarded[i]
		for len(list) > 0 {
			var item []byte
			if j := bytes.LastIndexByte(list, ','); j >= 0 {
				item, list = list[j+1:], list[:j]
			} else {
				item, list = list, nil
			}
			item = trimOWS(item)
			if len(item) == 0 {
				continue // an empty list element (RFC 9110 section 5.6.1)
			}
			a, ok := parseForwardedAddr(item)
			if !ok {
				return candidate
			}
			walked, candidate = true, a
			if !t.Contains(a) {
				return a
			}
		}
	}
	if !walked && len(r.realIP) > 0 {
		if a, ok := parseForwardedAddr(bytes.TrimSpace(r.realIP)); ok {
			return a
		}
	}
	return candidate
}

// parseForwardedAddr parses an address as proxies write it: bare, with a
// port ("1.2.3.4:5678"), or bracketed IPv6 ("[::1]:5678").
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	s := string(b)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a, true
		}
	}
	return netip.Addr{}, false
}
