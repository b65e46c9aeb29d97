package fakeslack

import (
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stamped returns c ready to read with the kernel's receive timestamps once startStamping is
// called; until then it reads as c does.
func stamped(c net.Conn) net.Conn {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	return &stampedConn{TCPConn: tcp}
}

const timespecSize = int(unsafe.Sizeof(unix.Timespec{}))

// stampedConn notes when the kernel received the data each Read returns (SO_TIMESTAMPNS), once
// startStamping has been called: only a Socket Mode connection's acks need it, and an HTTP
// request is read as usual. One goroutine reads.
type stampedConn struct {
	*net.TCPConn
	raw  syscall.RawConn // nil until startStamping succeeded
	oob  []byte
	last atomic.Int64 // Unix nanoseconds of the latest data read; 0 before any
}

// startStamping turns the timestamps on, or leaves c reading as before if the socket will not
// give them. Call it before the reading goroutine starts.
func startStamping(c net.Conn) {
	s, ok := c.(*stampedConn)
	if !ok {
		return
	}
	raw, err := s.SyscallConn()
	if err != nil {
		return
	}
	var optErr error
	if err := raw.Control(func(fd uintptr) {
		optErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || optErr != nil {
		return
	}
	s.raw, s.oob = raw, make([]byte, unix.CmsgSpace(timespecSize))
}

func (c *stampedConn) Read(p []byte) (int, error) {
	if c.raw == nil {
		return c.TCPConn.Read(p)
	}
	var (
		n       int
		readErr error
	)
	err := c.raw.Read(func(fd uintptr) bool {
		var oobn int
		n, oobn, _, _, readErr = unix.Recvmsg(int(fd), p, c.oob, 0)
		if readErr == unix.EAGAIN {
			return false // wait until readable, or the read deadline
		}
		if readErr == nil {
			c.note(c.oob[:oobn])
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case readErr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: readErr}
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *stampedConn) note(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= timespecSize {
			ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			c.last.Store(ts.Nano())
		}
	}
}

// receivedAt is when the kernel received the latest data read from c, or now if c has no
// timestamps.
func receivedAt(c net.Conn) time.Time {
	if s, ok := c.(*stampedConn); ok {
		if ns := s.last.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
	}
	return time.Now()
}
