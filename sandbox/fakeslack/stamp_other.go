//go:build !linux

package fakeslack

import (
	"net"
	"time"
)

// stamped returns c: only Linux gives the receive timestamps stamp_linux.go reads.
func stamped(c net.Conn) net.Conn { return c }

// startStamping does nothing: there are no timestamps to turn on.
func startStamping(net.Conn) {}

// receivedAt is now: c has no timestamps.
func receivedAt(net.Conn) time.Time { return time.Now() }
