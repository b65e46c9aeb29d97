package fakeslack

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An ack read late, because the sandbox was busy, counts from when it reached the socket.
func TestWhatIsReadLateIsDatedWhenItArrived(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("receive timestamps are read on Linux only")
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listener := stampingListener{tcp}
	t.Cleanup(func() { _ = listener.Close() })

	client, err := net.Dial("tcp", listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	server, err := listener.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Close() })
	startStamping(server)

	sent := time.Now()
	_, err = client.Write([]byte(`{"envelope_id":"1"}`))
	require.NoError(t, err)
	const busy = 200 * time.Millisecond
	time.Sleep(busy)
	buf := make([]byte, 64)
	n, err := server.Read(buf)
	require.NoError(t, err)
	require.Equal(t, `{"envelope_id":"1"}`, string(buf[:n]))

	latency := receivedAt(server).Sub(sent)
	require.Less(t, latency, busy/2, "dated when it arrived, not when it was read")
	require.GreaterOrEqual(t, latency, time.Duration(0))
}
