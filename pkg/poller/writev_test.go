package poller

import (
	"bytes"
	"syscall"
	"testing"
)

func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestWritevWritesManyBuffersInOrder(t *testing.T) {
	w, r := socketPair(t)
	var bufs [][]byte
	var want []byte
	for i := range 200 { // more than one syscall's worth of iovecs
		b := bytes.Repeat([]byte{byte(i)}, i%7)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	n, err := writev(w, bufs)
	if err != nil || n != len(want) {
		t.Fatalf(
			"wrote %d of %d: %v",
			n, len(want), err,
		)
	}
	got := make([]byte, len(want)+10)
	m, _ := syscall.Read(r, got)
	if !bytes.Equal(got[:m], want) {
		t.Fatal("bytes arrived changed or out of order")
	}
}

func TestWritevReportsAFullSocketAsAShortWrite(t *testing.T) {
	w, _ := socketPair(t)
	big := make([]byte, 1<<20)
	total := 0
	for range 64 {
		n, err := writev(w, [][]byte{big})
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n < len(big) {
			return // short write with nil error: the buffer is full
		}
	}
	t.Fatalf(
		"socket never filled after %d bytes",
		total,
	)
}

func TestWritevOneBuffer(t *testing.T) {
	w, r := socketPair(t)
	if n, err := writev(w, [][]byte{[]byte("one frame")}); err != nil || n != 9 {
		t.Fatalf(
			"wrote %d: %v",
			n, err,
		)
	}
	got := make([]byte, 16)
	if m, _ := syscall.Read(r, got); string(got[:m]) != "one frame" {
		t.Fatalf(
			"read %q",
			got[:m],
		)
	}
}
