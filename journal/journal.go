// Package journal is Satellite's history: an append-only log on disk of
// every change it saw (links up and down, switches connecting and
// disconnecting, ports, hosts, tunnel paths, alerts), bounded by size and
// age, that survives a restart and a kill -9.
//
// The journal is a directory of segment files, each named after the
// sequence number of its first record (0000000000000001.log). A record on
// disk is a frame:
//
//	length  uint32, little endian: the payload's length
//	crc     uint32, little endian: CRC-32C (Castagnoli) of the payload
//	payload the record as JSON
//
// Appends are queued and written in batches by one goroutine: each batch
// is one write and one fsync, so a burst costs one fsync per batch, not
// per record. A record is durable once Sync returns after it was appended.
// On open, every segment is scanned; a frame that is torn (the process
// died mid-write) or whose checksum does not match ends that segment: the
// rest is truncated with a warning, and the journal opens. See
// docs/journal.md.
package journal

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/topology"
)

// Defaults of Options.
const (
	DefaultMaxSize = 256 << 20
	DefaultMaxAge  = 30 * 24 * time.Hour
	// MaxPending is how many records may wait for the disk; beyond it
	// new records are dropped (and counted): a stalled disk never blocks
	// the network's event sources.
	MaxPending = 1 << 20
	// maxFrame bounds one record's payload (a checkpoint of a big fabric
	// is the biggest); a longer length is corruption.
	maxFrame = 64 << 20
	frameHdr = 8
	segExt   = ".log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one change.
type Record struct {
	// Seq numbers the records, from 1, across restarts.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Kind is what happened: link-up, link-down, switch-connect, ...
	Kind string `json:"kind"`
	// Severity is critical, warning, ok or info (from Kind, see Severity).
	Severity string        `json:"severity"`
	DPID     topology.DPID `json:"dpid,omitempty"`
	Port     uint32        `json:"port,omitempty"`
	// Object names what changed: a link "src>dst", a port, a MAC, a rule.
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	// Data is the changed object as the API shows it, when there is one.
	Data json.RawMessage `json:"data,omitempty"`
}

// Severity returns the severity of a kind of record: critical for things
// that broke (down, failover, drift, disconnect), warning for refusals and
// flapping, ok for things that came back (up, failback), info otherwise.
func Severity(kind string) string {
	switch {
	case strings.HasSuffix(kind, "-down"), strings.HasSuffix(kind, "-disconnect"),
		strings.Contains(kind, "failover"), strings.Contains(kind, "drift"), kind == "alert-firing":
		return "critical"
	case strings.HasSuffix(kind, "-up"), strings.HasSuffix(kind, "-connect"), strings.Contains(kind, "failback"),
		kind == "alert-resolved", strings.Contains(kind, "repair"):
		return "ok"
	case strings.HasPrefix(kind, "lldp-"), strings.Contains(kind, "flapping"), strings.HasSuffix(kind, "-limit"),
		strings.HasSuffix(kind, "-refused"), strings.Contains(kind, "conflict"), kind == "link-forgotten":
		return "warning"
	}
	return "info"
}

// KindCheckpoint is the kind of the periodic records holding the whole
// topology (Data: a topology.Snapshot), from which TopologyAt rebuilds
// the past. Queries leave them out unless they ask for the kind.
const KindCheckpoint = "checkpoint"

// checkpoint locates a checkpoint record.
type checkpoint struct {
	seq  uint64
	time time.Time
	path string
	off  int64 // of its frame
}

// Options configure a Journal.
type Options struct {
	// Dir is the journal's directory (created when missing).
	Dir string
	// MaxSize bounds the segments' total size (default 256 MiB); the
	// oldest segments go first.
	MaxSize int64
	// MaxAge drops segments whose newest record is older (default 30 days).
	MaxAge time.Duration
	// SegmentSize starts a new segment once the current one is this big
	// (default MaxSize/8, between 64 KiB and 64 MiB).
	SegmentSize int64
	Logger      *slog.Logger
	Now         func() time.Time
}

// segment is one file's index entry.
type segment struct {
	path                string
	first, last         uint64 // sequence numbers (last 0: empty)
	firstTime, lastTime time.Time
	size                int64 // durable bytes
}

// Stats are the journal's counters.
type Stats struct {
	Dir      string `json:"dir"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
	First    uint64 `json:"first_seq"`
	Last     uint64 `json:"last_seq"`
	Dropped  uint64 `json:"dropped"`
	Batches  uint64 `json:"batches"`
	// Truncated counts the bytes cut off torn or corrupt tails at open.
	Truncated int64 `json:"truncated_bytes"`
}

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond // signals the writer (pending, closing) and Sync waiters (durable)
	pending  []Record
	nextSeq  uint64
	durable  uint64 // last durable seq
	segs     []segment
	file     *os.File // the last segment, open for appending
	closing  bool
	closed   bool
	werr     error // the last write error (the writer keeps trying)
	dropped  uint64
	batches  uint64
	truncd   int64
	lastTime time.Time
	cps      []checkpoint // oldest first
	done     chan struct{}
}

// Open opens (or creates) the journal in opt.Dir and starts its writer.
func Open(opt Options) (*Journal, error) {
	if opt.Dir == "" {
		return nil, errors.New("journal: no directory")
	}
	if opt.MaxSize <= 0 {
		opt.MaxSize = DefaultMaxSize
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = DefaultMaxAge
	}
	if opt.SegmentSize <= 0 {
		opt.SegmentSize = min(max(opt.MaxSize/8, 64<<10), 64<<20)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(opt.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{opt: opt, log: opt.Logger, done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	if err := j.load(); err != nil {
		return nil, err
	}
	go j.writer()
	return j, nil
}

// load scans the segments, truncating torn or corrupt tails, and opens
// the last one for appending.
func (j *Journal) load() error {
	ents, err := os.ReadDir(j.opt.Dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, segExt) && !e.IsDir() {
			if _, err := strconv.ParseUint(strings.TrimSuffix(n, segExt), 16, 64); err == nil {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names) // fixed-width hex: sorts by first sequence number
	var last uint64
	for _, n := range names {
		s := segment{path: filepath.Join(j.opt.Dir, n)}
		var prev int64
		var cps []checkpoint
		good, total, err := scan(s.path, func(r Record, off int64) bool {
			if s.first == 0 {
				s.first, s.firstTime = r.Seq, r.Time
			}
			s.last, s.lastTime = r.Seq, r.Time
			if r.Kind == KindCheckpoint {
				cps = append(cps, checkpoint{seq: r.Seq, time: r.Time, path: s.path, off: prev})
			}
			prev = off
			return true
		})
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if good < total {
			j.log.Warn("journal: truncating a torn or corrupt tail (the process stopped mid-write, or the disk lost data)",
				"file", s.path, "kept_bytes", good, "cut_bytes", total-good)
			if err := os.Truncate(s.path, good); err != nil {
				return fmt.Errorf("journal: truncate %s: %w (remove the file to start the journal afresh)", s.path, err)
			}
			j.truncd += total - good
		}
		s.size = good
		if s.last != 0 && s.first <= last {
			j.log.Warn("journal: segment out of order, skipped", "file", s.path)
			continue
		}
		if s.last != 0 {
			last = s.last
		}
		j.segs = append(j.segs, s)
		j.cps = append(j.cps, cps...)
	}
	j.nextSeq, j.durable = last+1, last
	if n := len(j.segs); n > 0 {
		j.lastTime = j.segs[n-1].lastTime
		f, err := os.OpenFile(j.segs[n-1].path, os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.file = f
	}
	return nil
}

// scan reads the frames of a file, calling fn for each good record with
// the offset after it (fn returns false to stop). It returns the length of
// the good prefix and the file's size.
func scan(path string, fn func(Record, int64) bool) (good, total int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	good, err = scanReader(bufio.NewReaderSize(f, 256<<10), st.Size(), fn)
	return good, st.Size(), err
}

// scanReader reads up to limit bytes of frames from r.
func scanReader(r io.Reader, limit int64, fn func(Record, int64) bool) (int64, error) {
	var off int64
	var hdr [frameHdr]byte
	buf := make([]byte, 0, 4096)
	for off+frameHdr <= limit {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n == 0 || n > maxFrame || off+frameHdr+n > limit {
			return off, nil
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return off, nil
		}
		if crc32.Checksum(buf, castagnoli) != sum {
			return off, nil
		}
		var rec Record
		if err := json.Unmarshal(buf, &rec); err != nil || rec.Seq == 0 {
			return off, nil
		}
		off += frameHdr + n
		if !fn(rec, off) {
			return off, nil
		}
	}
	return off, nil
}

// Append queues records. It fills in Seq, Time (when zero) and Severity
// (when empty), and never blocks on the disk: past MaxPending queued
// records, new ones are dropped and counted.
func (j *Journal) Append(recs ...Record) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closing {
		return
	}
	now := j.opt.Now()
	for _, r := range recs {
		if len(j.pending) >= MaxPending {
			if j.dropped++; j.dropped == 1 || j.dropped%10000 == 0 {
				j.log.Warn("journal: the disk is not keeping up; records dropped", "dropped", j.dropped, "dir", j.opt.Dir)
			}
			continue
		}
		if r.Time.IsZero() {
			r.Time = now
		}
		if r.Severity == "" {
			r.Severity = Severity(r.Kind)
		}
		r.Seq = j.nextSeq
		j.nextSeq++
		j.pending = append(j.pending, r)
	}
	j.cond.Broadcast()
}

// Sync waits until every record appended before it is on disk (written
// and fsynced), and returns the last write error, if any.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	want := j.nextSeq - 1
	for j.durable < want && !j.closed && j.werr == nil {
		j.cond.Wait()
	}
	return j.werr
}

// Close writes what is queued and closes the journal. A nil journal is
// closed.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	if j.closing {
		j.mu.Unlock()
		<-j.done
		return nil
	}
	j.closing = true
	j.cond.Broadcast()
	j.mu.Unlock()
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.file != nil {
		err = j.file.Close()
		j.file = nil
	}
	return err
}

// writer writes the queued records in batches, one fsync per batch.
func (j *Journal) writer() {
	defer close(j.done)
	var buf []byte
	for {
		j.mu.Lock()
		for len(j.pending) == 0 && !j.closing {
			j.cond.Wait()
		}
		if len(j.pending) == 0 && j.closing {
			j.closed = true
			j.cond.Broadcast()
			j.mu.Unlock()
			return
		}
		batch := j.pending
		j.pending = nil
		j.mu.Unlock()

		buf = buf[:0]
		var cps []checkpoint
		for _, r := range batch {
			if r.Kind == KindCheckpoint {
				cps = append(cps, checkpoint{seq: r.Seq, time: r.Time, off: int64(len(buf))})
			}
			buf = appendFrame(buf, r)
		}
		err := j.write(buf, batch, cps)
		j.mu.Lock()
		j.batches++
		if err != nil {
			if j.werr == nil {
				j.log.Error("journal: write failed; records lost until the disk recovers", "dir", j.opt.Dir, "err", err)
			}
			j.werr = err
			j.dropped += uint64(len(batch))
		} else {
			j.werr = nil
		}
		j.durable = batch[len(batch)-1].Seq
		j.cond.Broadcast()
		j.mu.Unlock()
	}
}

func appendFrame(buf []byte, r Record) []byte {
	p, err := json.Marshal(r)
	if err != nil || len(p) > maxFrame {
		p, _ = json.Marshal(Record{Seq: r.Seq, Time: r.Time, Kind: r.Kind, Severity: r.Severity, DPID: r.DPID, Port: r.Port,
			Object: r.Object, Message: "(record too large)"})
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(p)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(p, castagnoli))
	return append(buf, p...)
}

// write appends one batch to the last segment (starting a new one when it
// is full), fsyncs it, updates the index and drops segments over the
// bounds. Only the writer calls it.
func (j *Journal) write(buf []byte, batch []Record, cps []checkpoint) error {
	j.mu.Lock()
	needNew := j.file == nil || (len(j.segs) > 0 && j.segs[len(j.segs)-1].size >= j.opt.SegmentSize)
	j.mu.Unlock()
	if needNew {
		if err := j.rotate(batch[0].Seq); err != nil {
			return err
		}
	}
	j.mu.Lock()
	f, size := j.file, j.segs[len(j.segs)-1].size
	j.mu.Unlock()
	_, err := f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		// a partly written batch must not sit before the next one: the
		// next start would cut everything after it as a torn tail
		_ = f.Truncate(size)
		return err
	}
	j.mu.Lock()
	s := &j.segs[len(j.segs)-1]
	if s.first == 0 {
		s.first, s.firstTime = batch[0].Seq, batch[0].Time
	}
	last := batch[len(batch)-1]
	s.last, s.lastTime = last.Seq, last.Time
	for _, c := range cps {
		c.path, c.off = s.path, s.size+c.off
		j.cps = append(j.cps, c)
	}
	s.size += int64(len(buf))
	j.lastTime = last.Time
	j.mu.Unlock()
	j.prune()
	return nil
}

// rotate closes the current segment and starts one whose first record is seq.
func (j *Journal) rotate(seq uint64) error {
	path := filepath.Join(j.opt.Dir, fmt.Sprintf("%016x%s", seq, segExt))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if d, err := os.Open(j.opt.Dir); err == nil { // the new name survives a crash
		_ = d.Sync()
		d.Close()
	}
	j.mu.Lock()
	old := j.file
	j.file = f
	j.segs = append(j.segs, segment{path: path})
	j.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// prune removes the oldest segments while the journal is over its size or
// their records are older than MaxAge. The last segment stays.
func (j *Journal) prune() {
	now := j.opt.Now()
	j.mu.Lock()
	var gone []string
	for len(j.segs) > 1 {
		var total int64
		for _, s := range j.segs {
			total += s.size
		}
		s := j.segs[0]
		if total <= j.opt.MaxSize && !s.lastTime.Before(now.Add(-j.opt.MaxAge)) {
			break
		}
		gone = append(gone, s.path)
		j.segs = j.segs[1:]
		for len(j.cps) > 0 && j.cps[0].path == s.path {
			j.cps = j.cps[1:]
		}
	}
	j.mu.Unlock()
	for _, p := range gone {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			j.log.Warn("journal: cannot remove an old segment", "file", p, "err", err)
		}
	}
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := Stats{Dir: j.opt.Dir, Segments: len(j.segs), Last: j.durable, Dropped: j.dropped, Batches: j.batches, Truncated: j.truncd}
	for _, s := range j.segs {
		st.Bytes += s.size
		if st.First == 0 && s.first != 0 {
			st.First = s.first
		}
	}
	return st
}

// Query selects records. Zero fields select everything.
type Query struct {
	Since, Until time.Time // Since inclusive, Until exclusive
	Kinds        []string  // any of these kinds
	DPIDs        []topology.DPID
	After        uint64 // records after this sequence number
	// Limit: at most this many; with Newest, the newest ones.
	Limit  int
	Newest bool
}

func (q Query) match(r Record) bool {
	if r.Seq <= q.After || (!q.Since.IsZero() && r.Time.Before(q.Since)) || (!q.Until.IsZero() && !r.Time.Before(q.Until)) {
		return false
	}
	if len(q.Kinds) > 0 && !contains(q.Kinds, r.Kind) || len(q.Kinds) == 0 && r.Kind == KindCheckpoint {
		return false
	}
	if len(q.DPIDs) > 0 && !contains(q.DPIDs, r.DPID) {
		return false
	}
	return true
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Read returns the durable records q selects, oldest first.
func (j *Journal) Read(q Query) ([]Record, error) {
	j.mu.Lock()
	segs := append([]segment(nil), j.segs...)
	j.mu.Unlock()
	out := []Record{}
	for i, s := range segs {
		if s.last == 0 || s.last <= q.After || (!q.Since.IsZero() && s.lastTime.Before(q.Since)) {
			continue
		}
		if !q.Until.IsZero() && !s.firstTime.Before(q.Until) {
			break
		}
		f, err := os.Open(s.path)
		if errors.Is(err, os.ErrNotExist) { // pruned meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		stop := false
		_, err = scanReader(bufio.NewReaderSize(f, 256<<10), s.size, func(r Record, _ int64) bool {
			if q.match(r) {
				out = append(out, r)
				if q.Limit > 0 && !q.Newest && len(out) >= q.Limit {
					stop = true
					return false
				}
			}
			return true
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if stop {
			break
		}
		if q.Limit > 0 && q.Newest && len(out) > 4*q.Limit && i < len(segs)-1 {
			out = append(out[:0:0], out[len(out)-q.Limit:]...)
		}
	}
	if q.Limit > 0 && q.Newest && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}
