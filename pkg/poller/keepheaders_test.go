package poller

import (
	"net/http"
	"reflect"
	"testing"
)

func TestKeptHeaders(t *testing.T) {
	head := []byte("GET /ws HTTP/1.1\r\nHost: x\r\ncookie: a=1\r\nAuthorization:  Bearer t \r\nCookie: b=2\r\nX-Other: no\r\n\r\nAuthorization: body")
	got := keptHeaders(head, []string{"cookie", "authorization"})
	want := http.Header{"Cookie": {"a=1", "b=2"}, "Authorization": {"Bearer t"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if h := keptHeaders(head, []string{"x-missing"}); h != nil {
		t.Fatalf("got %v for a header that is absent", h)
	}
}
