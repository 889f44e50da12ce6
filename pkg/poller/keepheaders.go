package poller

import (
	"bytes"
	"net/http"
	"strings"
)

// keptHeaders returns the header lines of the request head whose names
// are in names (lower-case), in order; nil when none. Only endpoints
// that ask for headers (Endpoint.KeepHeaders) pay for this scan.
func keptHeaders(head []byte, names []string) http.Header {
	var h http.Header
	crlf := []byte("\r\n")
	_, rest, _ := bytes.Cut(head, crlf) // skip the request line
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, crlf)
		if len(line) == 0 {
			break // end of the head
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		name := string(bytes.TrimSpace(line[:i]))
		for _, want := range names {
			if strings.EqualFold(name, want) {
				if h == nil {
					h = http.Header{}
				}
				h.Add(name, string(bytes.TrimSpace(line[i+1:])))
				break
			}
		}
	}
	return h
}
