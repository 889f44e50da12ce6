package httpbody

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	const limit = 10
	for _, c := range []struct {
		name    string
		body    string
		length  int64 // Content-Length; -1 unknown (chunked)
		want    string
		tooBig  bool
		wantErr bool
	}{
		{name: "declared", body: "hello", length: 5, want: "hello"},
		{name: "declared at the limit", body: "0123456789", length: 10, want: "0123456789"},
		{name: "declared over the limit", body: "0123456789x", length: 11, tooBig: true},
		{name: "unknown length", body: "hello", length: -1, want: "hello"},
		{name: "unknown length over the limit", body: "0123456789x", length: -1, tooBig: true},
		{name: "shorter than declared", body: "hi", length: 5, wantErr: true},
		{name: "empty", body: "", length: 0, want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(c.body)))
			r.ContentLength = c.length
			w := httptest.NewRecorder()
			got, err := Read(w, r, limit)
			var tooBig *http.MaxBytesError
			switch {
			case c.tooBig:
				if !errors.As(err, &tooBig) || tooBig.Limit != limit {
					t.Fatalf("error %v, want *http.MaxBytesError with limit %d", err, limit)
				}
			case c.wantErr:
				if err == nil || errors.As(err, &tooBig) {
					t.Fatalf("error %v, want a read error", err)
				}
			case err != nil || string(got) != c.want:
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// A declared oversized body is refused without reading any of it.
func TestReadRefusesDeclaredOversizeUnread(t *testing.T) {
	body := &countingReader{r: strings.NewReader(strings.Repeat("x", 1000))}
	r := httptest.NewRequest(http.MethodPost, "/", body)
	r.ContentLength = 1000
	w := httptest.NewRecorder()
	if _, err := Read(w, r, 10); err == nil {
		t.Fatal("accepted")
	}
	if body.n != 0 {
		t.Fatalf("read %d bytes of a body refused by its Content-Length", body.n)
	}
	if w.Header().Get("Connection") != "close" {
		t.Fatal("the connection is kept, with an unread body on it")
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
