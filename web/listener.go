package web

import (
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LimitListener returns a listener that keeps at most max connections of
// ln open. A connection beyond that is answered "503 too many
// connections" and closed at once, rather than left waiting in the
// kernel's queue: the client learns why, and idle or slow connections
// cannot hold the server's memory or file descriptors. Refusals are
// logged at most once a minute, with a count.
func LimitListener(ln net.Listener, max int, log *slog.Logger) *Limited {
	if log == nil {
		log = slog.Default()
	}
	return &Limited{Listener: ln, max: int64(max), log: log}
}

// Limited is the listener of LimitListener.
type Limited struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused atomic.Uint64
	log     *slog.Logger

	mu      sync.Mutex
	lastLog time.Time
	logged  uint64
}

// Open returns how many connections are open.
func (l *Limited) Open() int64 { return l.open.Load() }

// Refused returns how many connections were refused.
func (l *Limited) Refused() uint64 { return l.refused.Load() }

const tooMany = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: "

// Accept returns the next connection within the limit.
func (l *Limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		n := l.refused.Add(1)
		go func() { // never block Accept on a client that does not read
			body := `{"error":"too many connections: the server keeps at most ` + strconv.FormatInt(l.max, 10) + ` open (http.max_connections); try again later"}` + "\n"
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(tooMany + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
			c.Close()
		}()
		l.mu.Lock()
		if time.Since(l.lastLog) >= time.Minute {
			l.log.Warn("http connections refused: limit reached", "limit", l.max, "refused", n-l.logged, "remote", c.RemoteAddr().String())
			l.lastLog, l.logged = time.Now(), n
		}
		l.mu.Unlock()
	}
}

type limitedConn struct {
	net.Conn
	l    *Limited
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
