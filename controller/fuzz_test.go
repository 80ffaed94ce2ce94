package controller_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// FuzzSession plays a switch that completes the hello and then sends
// arbitrary bytes. The controller may drop messages or the connection, but
// must not panic (ServeConn would log "internal error") or hang.
func FuzzSession(f *testing.F) {
	// features reply for xid 2 then a port status
	features := []byte{4, 6, 0, 32, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 254, 0, 0, 0, 0, 0, 0, 0x4f, 0, 0, 0, 0}
	f.Add(features)
	f.Add(append(append([]byte{}, features...), 4, 12, 0, 80, 0, 0, 0, 0))
	f.Add([]byte{4, 19, 0, 16, 0, 0, 0, 3, 0, 13, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{4, 2, 0, 12, 0, 0, 0, 9, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		logs := &logBuffer{}
		ctl := controller.New(controller.Config{
			Logger:           slog.New(slog.NewTextHandler(logs, nil)),
			HandshakeTimeout: 200 * time.Millisecond, RequestTimeout: 200 * time.Millisecond,
			EchoInterval: 50 * time.Millisecond,
		})
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() { defer close(done); ctl.ServeConn(context.Background(), a) }()
		go func() {
			// drain what the controller sends
			buf := make([]byte, 4096)
			for {
				if _, err := b.Read(buf); err != nil {
					return
				}
			}
		}()
		b.SetWriteDeadline(time.Now().Add(time.Second))
		b.Write([]byte{4, 0, 0, 8, 0, 0, 0, 1})
		b.Write(data)
		time.Sleep(time.Millisecond)
		b.Close()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("ServeConn did not return after the peer closed")
		}
		if strings.Contains(logs.String(), "internal error") {
			t.Fatalf("controller hit an internal error:\n%s", logs.String())
		}
	})
}
