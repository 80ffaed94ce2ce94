package auth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AuditEntry is one state-changing request: who, what, from where, and
// how it ended. Refused requests (401, 403, 415...) are recorded too.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	User   string    `json:"user"` // token or certificate name, "" when anonymous
	Role   Role      `json:"role"`
	Via    string    `json:"via"`
	Method string    `json:"method"`
	Path   string    `json:"path"` // with the query
	Status int       `json:"status"`
	Remote string    `json:"remote"`
	Error  string    `json:"error,omitempty"` // the error message answered, if any
}

// AuditLog appends entries to a file of JSON lines (0600). It is safe for
// concurrent use.
type AuditLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
	seq  uint64
}

// MaxAuditRead is how much of the end of the audit file Entries reads.
const MaxAuditRead = 64 << 20

// OpenAuditLog opens (creating it and its directory when missing) the
// audit log at path, for appending.
func OpenAuditLog(path string) (*AuditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	// a torn last line (a crash mid-write) is ended, so that the next
	// entry starts on a line of its own
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(path); err == nil {
			if _, err := r.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
				_, _ = f.Write([]byte{'\n'})
			}
			r.Close()
		}
	}
	l := &AuditLog{path: path, f: f}
	// continue the sequence numbers of the file
	if es, err := ReadAudit(path); err == nil && len(es) > 0 {
		l.seq = es[len(es)-1].Seq
	}
	return l, nil
}

// Path returns the file of the log.
func (l *AuditLog) Path() string { return l.path }

// Append writes e (with the next sequence number) as one line.
func (l *AuditLog) Append(e AuditEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	return nil
}

// Entries returns the entries of the log, oldest first.
func (l *AuditLog) Entries() ([]AuditEntry, error) { return ReadAudit(l.path) }

// Close closes the file.
func (l *AuditLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// ReadAudit reads the entries of the audit file at path (its last
// MaxAuditRead bytes), oldest first. Lines that do not decode (a torn last
// line after a crash) are skipped.
func ReadAudit(path string) ([]AuditEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxAuditRead {
		if _, err := f.Seek(fi.Size()-MaxAuditRead, io.SeekStart); err != nil {
			return nil, err
		}
		br := bufio.NewReader(f)
		_, _ = br.ReadBytes('\n') // a partial first line
		r = br
	}
	var out []AuditEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e AuditEntry
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
