// Package httpbody reads HTTP request bodies under a size limit without
// holding more than the body: the API endpoints' one way to read a request.
package httpbody

import (
	"io"
	"net/http"
)

// Read returns r's body, at most limit bytes. A body over the limit yields
// an *http.MaxBytesError (answer 413): at once, before reading anything,
// when Content-Length already says so (a 200 MiB upload to a 10 MiB limit
// costs nothing), else once limit bytes have been read. A body whose length
// is declared is read into one buffer of that length, not grown by
// doubling as io.ReadAll does (which held up to twice the limit).
func Read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		// Let net/http close the connection rather than drain a body that
		// will not be read.
		w.Header().Set("Connection", "close")
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, b); err != nil {
		return nil, err // io.ErrUnexpectedEOF: shorter than declared
	}
	return b, nil
}
