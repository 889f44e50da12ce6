package poller

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// OriginPolicy decides which browser origins may open a WebSocket. Browsers
// send the page's origin with every handshake; checking it is what keeps a
// page on another site from using a visitor's cookies against the gateway
// (cross-site WebSocket hijacking).
type OriginPolicy struct {
	exact     map[string]struct{} // normalized "scheme://host[:port]"
	wildcards []originPattern
	any       bool
	// AllowMissing admits handshakes without an Origin header: non-browser
	// clients (backends, mobile apps, CLIs) do not send one.
	AllowMissing bool
	// AllowSameOrigin admits an Origin whose host equals the request's Host
	// header (ports ignored: proxies often drop them), such as the demo page
	// the gateway serves itself.
	AllowSameOrigin bool
}

type originPattern struct {
	scheme string // "" matches http and https
	suffix string // ".example.com"
	port   string // "" means the scheme's default
}

// NewOriginPolicy builds a policy from allowlist entries:
//
//	https://app.example.com      exactly this origin (default port implied)
//	http://localhost:3000        exactly this origin
//	*.example.com                any subdomain of example.com, http or https
//	https://*.example.com:8443   any subdomain, this scheme and port
//	*                            any origin (for development only)
func NewOriginPolicy(allowed []string, allowMissing, allowSameOrigin bool) (*OriginPolicy, error) {
	p := &OriginPolicy{exact: make(map[string]struct{}), AllowMissing: allowMissing, AllowSameOrigin: allowSameOrigin}
	for _, entry := range allowed {
		entry = strings.ToLower(strings.TrimSpace(entry))
		switch {
		case entry == "":
			continue
		case entry == "*":
			p.any = true
		case strings.Contains(entry, "*"):
			pat, err := parsePattern(entry)
			if err != nil {
				return nil, err
			}
			p.wildcards = append(p.wildcards, pat)
		default:
			scheme, host, port, ok := splitOrigin(entry)
			if !ok || !validOriginParts(scheme, host, port) {
				return nil, fmt.Errorf("origin %q: want scheme://host[:port], *.domain or *", entry)
			}
			p.exact[joinOrigin(scheme, host, port)] = struct{}{}
		}
	}
	return p, nil
}

func parsePattern(entry string) (originPattern, error) {
	var pat originPattern
	rest := entry
	if i := strings.Index(rest, "://"); i >= 0 {
		pat.scheme, rest = rest[:i], rest[i+3:]
	}
	if !strings.HasPrefix(rest, "*.") || strings.Contains(rest[1:], "*") {
		return pat, fmt.Errorf("origin pattern %q: only a leading \"*.\" is supported", entry)
	}
	host, port := rest[1:], ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, port = host[:i], host[i+1:]
	}
	if len(host) < 2 {
		return pat, fmt.Errorf("origin pattern %q has no domain", entry)
	}
	scheme := pat.scheme
	if scheme == "" {
		scheme = "https" // any scheme matches; check the rest
	}
	if !validOriginParts(scheme, host[1:], port) {
		return pat, fmt.Errorf("origin pattern %q: want [scheme://]*.domain[:port]", entry)
	}
	pat.suffix, pat.port = host, normalizePort(pat.scheme, port)
	return pat, nil
}

// Allow reports whether a handshake with this Origin header (absent when
// present is false) and Host header may proceed.
func (p *OriginPolicy) Allow(origin []byte, present bool, host []byte) bool {
	if !present {
		return p.AllowMissing
	}
	if p.any {
		return true
	}
	scheme, h, port, ok := splitOrigin(strings.ToLower(string(origin)))
	if !ok {
		return false // includes the opaque origin "null"
	}
	if _, ok := p.exact[joinOrigin(scheme, h, port)]; ok {
		return true
	}
	for _, w := range p.wildcards {
		if (w.scheme == scheme || (w.scheme == "" && (scheme == "http" || scheme == "https"))) &&
			strings.HasSuffix(h, w.suffix) && len(h) > len(w.suffix) &&
			normalizePort(scheme, port) == normalizePort(scheme, w.port) {
			return true
		}
	}
	if p.AllowSameOrigin && len(host) > 0 {
		reqHost := strings.ToLower(string(host))
		if hh, _, err := net.SplitHostPort(reqHost); err == nil {
			reqHost = hh
		}
		return strings.Trim(reqHost, "[]") == strings.Trim(h, "[]")
	}
	return false
}

// splitOrigin splits a lower-case "scheme://host[:port]" serialized origin
// (RFC 6454), dropping the scheme's default port.
func splitOrigin(o string) (scheme, host, port string, ok bool) {
	i := strings.Index(o, "://")
	if i <= 0 {
		return "", "", "", false
	}
	scheme, rest := o[:i], o[i+3:]
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return "", "", "", false
	}
	host = rest
	if h, pt, err := net.SplitHostPort(rest); err == nil {
		host, port = h, pt
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme, host, normalizePort(scheme, port), true
}

// validOriginParts checks a configured origin's parts as a browser would
// serialize them (RFC 6454 section 6.1, RFC 3986 section 3): a scheme of a
// letter then letters, digits, '+', '-' or '.' (any scheme: apps send
// capacitor:// or chrome-extension:// origins), an ASCII host name (IDNs in
// punycode) or a bracketed IPv6 address, and a port from 1 to 65535. An
// entry a browser can never send would otherwise be accepted silently.
func validOriginParts(scheme, host, port string) bool {
	for i, r := range scheme {
		letter := r >= 'a' && r <= 'z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return false
		}
	}
	if ip, ok := strings.CutPrefix(host, "["); ok {
		ip, ok = strings.CutSuffix(ip, "]")
		return ok && strings.Contains(ip, ":") && net.ParseIP(ip) != nil
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return host != ""
}

func normalizePort(scheme, port string) string {
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return ""
	}
	return port
}

func joinOrigin(scheme, host, port string) string {
	if port == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}
