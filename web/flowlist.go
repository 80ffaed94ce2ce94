package web

// Flow listings of large tables (GET /api/v1/switches/{dpid}/flows).
//
// A switch may hold hundreds of thousands of flows. The listing is built
// from the raw flow-stats reply: an index of the entries in listing order
// (table, priority highest first, then match and cookie as the switch
// encodes them) is sorted, and the JSON
// is written entry by entry as it is encoded, never as one document in
// memory. Paging (?limit=N&after=CURSOR) reads every page of one listing
// from one dump: the first page keeps the dump for a while, and its
// cursors name it, so a client paging through 200,000 flows costs the
// switch one dump, not one per page. A cursor whose dump has expired
// still works: the next page comes from a fresh dump, after the cursor's
// sort key (cursors stay stable, as everywhere in the API).

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

const (
	// flowSnapshotTTL is how long a paged listing's dump is kept.
	flowSnapshotTTL = 30 * time.Second
	// flowSnapshotsKept bounds the dumps kept for paging.
	flowSnapshotsKept = 2
)

// flowRef is one entry of a dump, in listing order: 32 bytes, so the
// index of 200,000 flows is 6 MB; matches and actions are formatted only
// when written.
type flowRef struct {
	off, n   uint32 // the entry in the dump's body
	mOff     uint32 // its match's OXM bytes in the body
	mLen     uint16
	priority uint16
	table    uint8
	cookie   uint64
}

// flowOrder compares refs in listing order: table, priority highest
// first, match (its OXM bytes), cookie. match returns a ref's match bytes.
func flowOrder(a, b *flowRef, am, bm []byte) int {
	if c := cmp.Compare(a.table, b.table); c != 0 {
		return c
	}
	if c := cmp.Compare(b.priority, a.priority); c != 0 {
		return c
	}
	if c := bytes.Compare(am, bm); c != 0 {
		return c
	}
	return cmp.Compare(a.cookie, b.cookie)
}

func (s *flowSnapshot) match(f *flowRef) []byte { return s.body[f.mOff : f.mOff+uint32(f.mLen)] }

// flowKey is a position in the listing order, as a cursor carries it:
// the ref's fields and its match bytes (hex).
type flowKey struct {
	ref   flowRef
	match []byte
}

func (s *flowSnapshot) sortKey(f *flowRef) string {
	return fmt.Sprintf("%03d|%05d|%016x|%x", f.table, 65535-int(f.priority), f.cookie, s.match(f))
}

// parseFlowKey reads a sortKey back.
func parseFlowKey(k string) (flowKey, bool) {
	parts := strings.SplitN(k, "|", 4)
	if len(parts) != 4 {
		return flowKey{}, false
	}
	t, err1 := strconv.ParseUint(parts[0], 10, 8)
	p, err2 := strconv.ParseUint(parts[1], 10, 16)
	c, err3 := strconv.ParseUint(parts[2], 16, 64)
	m, err4 := hex.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return flowKey{}, false
	}
	return flowKey{ref: flowRef{table: uint8(t), priority: uint16(65535 - p), cookie: c}, match: m}, true
}

// flowSnapshot is one dump of a switch's table, indexed for listing.
type flowSnapshot struct {
	id    uint64
	dpid  uint64
	query string // the selection it was taken for, canonical
	taken time.Time
	body  []byte
	refs  []flowRef
}

// flowSnapshots keeps the dumps of paged listings.
type flowSnapshots struct {
	mu   sync.Mutex
	next uint64
	kept []*flowSnapshot
}

func (fs *flowSnapshots) get(id, dpid uint64, query string, now time.Time) *flowSnapshot {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, s := range fs.kept {
		if s.id == id && s.dpid == dpid && s.query == query && now.Sub(s.taken) < flowSnapshotTTL {
			return s
		}
	}
	return nil
}

func (fs *flowSnapshots) keep(s *flowSnapshot, now time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if s.id != 0 {
		return // kept already
	}
	fs.next++
	s.id = fs.next
	live := fs.kept[:0]
	for _, k := range fs.kept {
		if now.Sub(k.taken) < flowSnapshotTTL {
			live = append(live, k)
		}
	}
	if len(live) >= flowSnapshotsKept {
		live = slices.Delete(live, 0, len(live)-flowSnapshotsKept+1)
	}
	fs.kept = append(live, s)
}

// flowCursor is what an X-Next-After cursor of a flow listing says.
type flowCursor struct {
	snapshot uint64 // 0: none
	pos      int    // the next entry in that snapshot
	key      string // the last entry's sort key
}

func (c flowCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("f1|%d|%d|%s", c.snapshot, c.pos, c.key)))
}

func decodeFlowCursor(s string) (flowCursor, error) {
	bad := httpapi.Errorf(http.StatusBadRequest, "after", "after %q: want a cursor from the X-Next-After or Link header of a previous page", s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return flowCursor{}, bad
	}
	parts := strings.SplitN(string(b), "|", 4)
	if len(parts) != 4 || parts[0] != "f1" {
		return flowCursor{}, bad
	}
	id, err1 := strconv.ParseUint(parts[1], 10, 64)
	pos, err2 := strconv.Atoi(parts[2])
	if _, ok := parseFlowKey(parts[3]); err1 != nil || err2 != nil || pos < 0 || !ok {
		return flowCursor{}, bad
	}
	return flowCursor{snapshot: id, pos: pos, key: parts[3]}, nil
}

// dumpFlows takes a dump of dpid's flows selected by sel and indexes it.
func (s *Server) dumpFlows(r *http.Request, dpid uint64, sel flowSelector, query string) (*flowSnapshot, error) {
	sess, err := s.sessionOf(dpid)
	if err != nil {
		return nil, err
	}
	body, err := sess.FlowStatsRaw(r.Context(), sel.filter)
	if err != nil {
		return nil, s.switchError(dpid, err)
	}
	snap := &flowSnapshot{dpid: dpid, query: query, taken: time.Now(), body: body}
	off := 0
	err = ofwire.EachFlowEntry(body, func(e *ofwire.FlowEntry) error {
		n := int(binary.BigEndian.Uint16(body[off:]))
		// the match's OXM fields follow the 48-byte fixed part and the
		// ofp_match header (type, length)
		ref := flowRef{off: uint32(off), n: uint32(n), mOff: uint32(off + 48 + 4), mLen: uint16(len(e.Match)),
			table: e.Table, priority: e.Priority, cookie: e.Cookie}
		if !bytes.Equal(body[ref.mOff:ref.mOff+uint32(ref.mLen)], e.Match) {
			return fmt.Errorf("flow stats entry at byte %d: match not where OpenFlow 1.3 puts it", off)
		}
		off += n
		if sel.foreign && controller.Cookie(e.Cookie).Kind() != controller.OwnerForeign {
			return nil
		}
		snap.refs = append(snap.refs, ref)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dpid %s: flow-stats reply: %w", FormatDPID(dpid), err)
	}
	slices.SortStableFunc(snap.refs, func(a, b flowRef) int { return flowOrder(&a, &b, snap.match(&a), snap.match(&b)) })
	return snap, nil
}

func (s *Server) getFlows(w http.ResponseWriter, r *http.Request) error {
	dpid, err := s.parseDPIDParam(r)
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "table", "owner", "network", "id", "limit", "after")
	if err != nil {
		return err
	}
	sel, err := parseSelector(q, "")
	if err != nil {
		return err
	}
	limit := 0
	if q.Has("limit") {
		if limit, _, err = pageParams(url.Values{"limit": q["limit"]}); err != nil {
			return err
		}
	}
	var cur *flowCursor
	if q.Has("after") {
		if len(q["after"]) > 1 {
			return httpapi.Errorf(http.StatusBadRequest, "after", "query parameter \"after\" given %d times", len(q["after"]))
		}
		c, err := decodeFlowCursor(q.Get("after"))
		if err != nil {
			return err
		}
		cur = &c
	}
	sq := url.Values{}
	for _, k := range []string{"table", "owner", "network", "id"} {
		if q.Has(k) {
			sq[k] = q[k]
		}
	}
	selection := sq.Encode()

	now := time.Now()
	var snap *flowSnapshot
	start := 0
	if cur != nil && cur.snapshot != 0 {
		if snap = s.flowSnaps.get(cur.snapshot, dpid, selection, now); snap != nil {
			start = min(cur.pos, len(snap.refs))
		}
	}
	if snap == nil {
		if snap, err = s.dumpFlows(r, dpid, sel, selection); err != nil {
			return err
		}
		if cur != nil {
			k, _ := parseFlowKey(cur.key)
			start, _ = slices.BinarySearchFunc(snap.refs, k, func(a flowRef, k flowKey) int {
				if c := flowOrder(&a, &k.ref, snap.match(&a), k.match); c != 0 {
					return c
				}
				return -1 // equal to the cursor: it was on the last page
			})
		}
	}
	end := len(snap.refs)
	if limit > 0 {
		end = min(end, start+limit)
	}
	h := w.Header()
	h.Set("X-Total-Count", strconv.Itoa(len(snap.refs)))
	if cur != nil || limit > 0 {
		next := flowCursor{pos: end}
		switch {
		case end > start:
			next.key = snap.sortKey(&snap.refs[end-1])
		case cur != nil:
			next.key = cur.key // nothing after the cursor (yet): ask again with it
		}
		if end < len(snap.refs) {
			s.flowSnaps.keep(snap, now)
			next.snapshot = snap.id
			lq := url.Values{}
			for k, v := range sq {
				lq[k] = v
			}
			if limit > 0 {
				lq.Set("limit", strconv.Itoa(limit))
			}
			lq.Set("after", next.encode())
			h.Set("Link", "<"+r.URL.Path+"?"+lq.Encode()+`>; rel="next"`)
		} else {
			next.snapshot = snap.id // 0 unless it was kept
		}
		if next.key != "" {
			h.Set("X-Next-After", next.encode())
		}
	}
	return writeFlows(w, snap, snap.refs[start:end])
}

// writeFlows streams refs of snap as a JSON array.
func writeFlows(w http.ResponseWriter, snap *flowSnapshot, refs []flowRef) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteByte('[')
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range refs {
		ref := &refs[i]
		stats, err := ofwire.DecodeFlowStats(snap.body[ref.off : ref.off+ref.n])
		if err != nil || len(stats) != 1 {
			// framed but undecodable: say so in the entry, keep the rest
			stats = []ofwire.FlowStats{{Table: ref.table, Priority: ref.priority, Cookie: ref.cookie}}
		}
		f := flowJSON(&stats[0])
		if err != nil {
			f.Actions = "undecodable: " + err.Error()
		}
		buf.Reset()
		_ = enc.Encode(&f)
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(bytes.TrimRight(buf.Bytes(), "\n"))
	}
	bw.WriteString("]\n")
	return bw.Flush()
}
