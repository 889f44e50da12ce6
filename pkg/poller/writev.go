package poller

import (
	"syscall"
	"unsafe"
)

// maxIovecs is how many buffers one writev takes here; longer vectors are
// written in several calls. (IOV_MAX is 1024 on Linux.)
const maxIovecs = 64

// writev writes bufs to the non-blocking socket fd with as few syscalls as
// possible. It returns the number of bytes written; a short count with a nil
// error means the socket's send buffer is full (EAGAIN).
func writev(fd int, bufs [][]byte) (int, error) {
	if len(bufs) == 1 { // the common case of one frame: write(2) skips copying an iovec in
		return write(fd, bufs[0])
	}
	var iov [maxIovecs]syscall.Iovec
	total := 0
	for len(bufs) > 0 {
		n, want := 0, 0
		for n < len(bufs) && n < maxIovecs {
			if len(bufs[n]) > 0 {
				iov[n].Base = &bufs[n][0]
			} else {
				iov[n].Base = nil
			}
			iov[n].SetLen(len(bufs[n]))
			want += len(bufs[n])
			n++
		}
		wrote, err := rawWritev(fd, iov[:n])
		total += wrote
		if err != nil {
			if err == syscall.EAGAIN {
				return total, nil
			}
			return total, err
		}
		if wrote < want {
			return total, nil // the send buffer filled up part way
		}
		bufs = bufs[n:]
	}
	return total, nil
}

// rawWritev and write use RawSyscall: the socket is non-blocking, so the
// call never waits, and telling the scheduler about it (entersyscall,
// exitsyscall) would only add to every message.
func rawWritev(fd int, iov []syscall.Iovec) (int, error) {
	for {
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		switch errno {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}

func write(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch errno {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, errno
	}
}
