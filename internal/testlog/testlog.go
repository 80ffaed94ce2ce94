// Package testlog is the one test log buffer: a strings.Builder safe for
// the concurrent writers of a slog handler. It imports nothing of
// Satellite, so any package's tests (internal ones too) can use it.
package testlog

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Buffer collects a test's logs; safe for concurrent writers.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reset forgets what was written.
func (l *Buffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// New logs at level into a new buffer, and to stderr as well when
// $SAT_TEST_LOG is set (to follow a test as it runs).
func New(level slog.Level) (*slog.Logger, *Buffer) {
	buf := &Buffer{}
	var w io.Writer = buf
	if os.Getenv("SAT_TEST_LOG") != "" {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), buf
}
