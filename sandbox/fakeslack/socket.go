package fakeslack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// maxConnections is how many Socket Mode connections Slack allows one app.
	maxConnections = 10
	// disconnectGrace is how long a connection stays open after its disconnect message.
	disconnectGrace = time.Second
	writeTimeout    = 10 * time.Second
)

// DisconnectReason is why Slack asks a Socket Mode client to reconnect.
type DisconnectReason string

// The reasons Slack sends.
const (
	DisconnectWarning           DisconnectReason = "warning"
	DisconnectRefreshRequested  DisconnectReason = "refresh_requested"
	DisconnectLinkDisabled      DisconnectReason = "link_disabled"
	DisconnectTooManyWebsockets DisconnectReason = "too_many_websockets"
)

// socketState is the Socket Mode side of the workspace, guarded by Server.mu.
type socketState struct {
	tickets     map[string]bool // single-use tickets handed out by apps.connections.open
	conns       []*socketConn   // open connections, oldest first
	next        int             // round-robin position in conns
	serial      int
	changed     chan struct{} // closed and replaced when a connection opens
	envelopes   map[string]*envelope
	outstanding int // envelopes still pending
}

func newSocketState() socketState {
	return socketState{tickets: map[string]bool{}, changed: make(chan struct{}), envelopes: map[string]*envelope{}}
}

type socketConn struct {
	id       int
	ws       *websocket.Conn
	writeMu  sync.Mutex    // gorilla allows one writer at a time
	done     chan struct{} // closed when the connection is gone
	once     sync.Once
	draining bool // sent a disconnect: gets no more envelopes (guarded by Server.mu)
}

func (c *socketConn) write(v any) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.writeLocked(v)
}

func (c *socketConn) writeLocked(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a socket frame: %w", err)
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("writing to socket %d: %w", c.id, err)
	}
	return nil
}

// pick returns the next open connection in round-robin order, or nil. Callers hold s.mu.
func (st *socketState) pick() *socketConn {
	for range st.conns {
		st.next = (st.next + 1) % len(st.conns)
		if c := st.conns[st.next]; !c.draining {
			return c
		}
	}
	return nil
}

func (s *Server) appsConnectionsOpen(*call) (obj, error) {
	ticket := uuid()
	s.socket.tickets[ticket] = true
	link := "ws://" + s.listener.Addr().String() + "/link/?" + url.Values{"ticket": {ticket}, "app_id": {AppID}}.Encode()
	return obj{"url": link}, nil
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.socket.tickets[ticket]
	delete(s.socket.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	startStamping(ws.NetConn()) // for readAcks
	conn := &socketConn{ws: ws, done: make(chan struct{})}
	// Hold the writer until hello is out: an envelope picked for this connection waits for it.
	conn.writeMu.Lock()
	s.mu.Lock()
	s.socket.serial++
	conn.id = s.socket.serial
	count := len(s.socket.conns) + 1
	if count <= maxConnections {
		s.socket.conns = append(s.socket.conns, conn)
		close(s.socket.changed)
		s.socket.changed = make(chan struct{})
	}
	s.mu.Unlock()
	if count > maxConnections {
		_ = conn.writeLocked(disconnectFrame(DisconnectTooManyWebsockets, conn.id))
		conn.writeMu.Unlock()
		_ = ws.Close()
		return
	}
	err = conn.writeLocked(obj{
		"type": "hello", "num_connections": count,
		"connection_info": obj{"app_id": AppID},
		"debug_info":      obj{"host": host(conn.id), "build_number": 1, "approximate_connection_time": 18060},
	})
	conn.writeMu.Unlock()
	if err != nil || !s.spawn(func() { s.readAcks(conn) }) {
		s.dropConn(conn)
		return
	}
	s.spawn(func() { s.ping(conn) })
	s.opts.Logger.Info().Int("connection", conn.id).Int("open", count).Msg("socket connected")
}

func host(connID int) string { return fmt.Sprintf("applink-sandbox-%d", connID) }

func disconnectFrame(reason DisconnectReason, connID int) obj {
	return obj{"type": "disconnect", "reason": string(reason), "debug_info": obj{"host": host(connID)}}
}

// readAcks reads acknowledgements until the connection ends.
func (s *Server) readAcks(conn *socketConn) {
	defer s.dropConn(conn)
	for {
		_, data, err := conn.ws.ReadMessage()
		if err != nil {
			return
		}
		s.ack(data, receivedAt(conn.ws.NetConn()))
	}
}

// ping pings the connection every PingInterval, as Slack does; slack-go reconnects when pings stop.
func (s *Server) ping(conn *socketConn) {
	ticker := time.NewTicker(s.opts.PingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := conn.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
		case <-conn.done:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// dropConn forgets a connection that ended.
func (s *Server) dropConn(conn *socketConn) {
	conn.once.Do(func() { close(conn.done) })
	_ = conn.ws.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.socket.conns {
		if c == conn {
			s.socket.conns = append(s.socket.conns[:i], s.socket.conns[i+1:]...)
			s.opts.Logger.Info().Int("connection", conn.id).Int("open", len(s.socket.conns)).Msg("socket gone")
			return
		}
	}
}

// Connections counts the open Socket Mode connections that take envelopes (each replica of a
// bot keeps its own).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.socket.conns {
		if !c.draining {
			n++
		}
	}
	return n
}

func (s *Server) openConns() []*socketConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*socketConn(nil), s.socket.conns...)
}

// Disconnect sends every open connection Slack's disconnect message with reason and closes it
// shortly after; envelopes go only to connections opened later. slack-go reconnects on it.
func (s *Server) Disconnect(reason DisconnectReason) {
	s.mu.Lock()
	conns := append([]*socketConn(nil), s.socket.conns...)
	for _, c := range conns {
		c.draining = true
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.write(disconnectFrame(reason, c.id))
		s.spawn(func() {
			timer := time.NewTimer(disconnectGrace)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-c.done:
			case <-s.ctx.Done():
			}
			_ = c.ws.Close()
		})
	}
}

// DropSockets cuts every Socket Mode connection's TCP connection without a close frame, as a
// network failure would.
func (s *Server) DropSockets() {
	for _, c := range s.openConns() {
		_ = c.ws.NetConn().Close()
	}
}

// closeSockets says goodbye to every connection as the server stops.
func (s *Server) closeSockets() {
	for _, c := range s.openConns() {
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server closing")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		_ = c.ws.Close()
	}
}
