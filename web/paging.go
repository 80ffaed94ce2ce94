package web

// Pagination of the lists that grow: flows, hosts, links, topology events
// and alert history take ?limit=N&after=CURSOR.
//
// The body stays a JSON array. A page that is not the end carries
//
//	Link: </api/v1/hosts?limit=100&after=CURSOR>; rel="next"
//
// and every page carries X-Next-After (the cursor of its last item) and
// X-Total-Count (the items before paging). Cursors are opaque and stable:
// they encode the last item's sort key, so a page after an item that has
// since disappeared still starts at the right place.
//
// Flows page themselves, every page of a listing from one dump of the
// switch (flowlist.go), with cursors of their own.
//
// Sets (flows, hosts, links) are in a fixed order; limit alone takes the
// first N. Logs (events, alert history) are oldest first; limit alone
// takes the newest N, and after=CURSOR everything newer than the cursor
// (at most limit), which is how a client follows a log by polling.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// pager says how to page one route's list.
type pager struct {
	log bool // oldest first: limit alone takes the newest items
	// ownLimit: the handler takes limit itself (the newest N); paging
	// only steps in with after.
	ownLimit bool
	key      func(item map[string]any) string // sorts like the list
}

// pagers are the routes with pagination, by pattern.
var pagers = map[string]pager{
	"GET /api/v1/hosts": {key: func(m map[string]any) string { return str(m["mac"]) }},
	"GET /api/v1/links": {key: func(m map[string]any) string {
		end := func(v any) string {
			e, _ := v.(map[string]any)
			return fmt.Sprintf("%s/%010d", str(e["dpid"]), int64(num64(e["port"])))
		}
		return end(m["src"]) + ">" + end(m["dst"])
	}},
	"GET /api/v1/topology/events": {log: true, key: func(m map[string]any) string {
		return fmt.Sprintf("%s|%s|%s|%010d|%s", timeKey(m["time"]), str(m["kind"]), str(m["dpid"]), int64(num64(m["port"])), str(m["message"]))
	}},
	"GET /api/v1/events":    {log: true, key: func(m map[string]any) string { return fmt.Sprintf("%020d", int64(num64(m["seq"]))) }},
	"GET /api/v1/audit-log": {log: true, key: func(m map[string]any) string { return fmt.Sprintf("%020d", int64(num64(m["seq"]))) }},
	"GET /api/v1/alerts/history": {log: true, ownLimit: true, key: func(m map[string]any) string {
		a, _ := m["alert"].(map[string]any)
		return fmt.Sprintf("%s|%s|%s|%s", timeKey(m["time"]), str(m["kind"]), str(a["rule"]), str(a["series"]))
	}},
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num64(v any) float64 {
	f, _ := v.(float64)
	return f
}

// timeKey makes an RFC 3339 time sort as text: zero-padded Unix nanoseconds.
func timeKey(v any) string {
	t, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		return fmt.Sprintf("%020d", 0)
	}
	return fmt.Sprintf("%020d", t.UnixNano())
}

// captureWriter keeps a handler's response for paging.
type captureWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.body.Write(b)
}

// paginate wraps the handler of a route with pagination, if it has any.
func (s *Server) paginate(pattern string, h httpapi.HandlerFunc) httpapi.HandlerFunc {
	pg, ok := pagers[pattern]
	if !ok {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return h(w, r) // the handler explains
		}
		_, hasLimit := q["limit"]
		_, hasAfter := q["after"]
		if !hasAfter && (!hasLimit || pg.ownLimit) {
			return h(w, r)
		}
		limit, after, err := pageParams(q)
		if err != nil {
			return err
		}
		q.Del("limit")
		q.Del("after")
		inner := r.Clone(r.Context())
		inner.URL.RawQuery = q.Encode()
		var rec captureWriter
		rec.header = http.Header{}
		if err := h(&rec, inner); err != nil {
			return err
		}
		var raw []json.RawMessage
		if rec.code != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &raw) != nil {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			_, _ = w.Write(rec.body.Bytes())
			return nil
		}
		type item struct {
			key string
			raw json.RawMessage
		}
		items := make([]item, len(raw))
		for i, b := range raw {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			items[i] = item{pg.key(m), b}
		}
		sort.SliceStable(items, func(i, j int) bool { return items[i].key < items[j].key })
		start, end := 0, len(items)
		switch {
		case hasAfter:
			start = sort.Search(len(items), func(i int) bool { return items[i].key > after })
			if limit > 0 && end-start > limit {
				end = start + limit
			}
		case pg.log:
			start = max(0, end-limit)
		default:
			end = min(end, limit)
		}
		page := make([]json.RawMessage, 0, end-start)
		for _, it := range items[start:end] {
			page = append(page, it.raw)
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(len(items)))
		if end > start {
			cursor := base64.RawURLEncoding.EncodeToString([]byte(items[end-1].key))
			w.Header().Set("X-Next-After", cursor)
			if end < len(items) {
				next := url.Values{}
				for k, v := range q {
					next[k] = v
				}
				if limit > 0 {
					next.Set("limit", strconv.Itoa(limit))
				}
				next.Set("after", cursor)
				w.Header().Set("Link", "<"+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
			}
		} else if hasAfter {
			// nothing after the cursor (yet): ask again with the same one
			w.Header().Set("X-Next-After", base64.RawURLEncoding.EncodeToString([]byte(after)))
		}
		httpapi.WriteJSON(w, http.StatusOK, page)
		return nil
	}
}

// pageParams checks limit (1 to MaxPageLimit, 0 when absent) and after
// (a cursor from X-Next-After or a Link header).
func pageParams(q url.Values) (limit int, after string, err error) {
	for _, name := range []string{"limit", "after"} {
		if len(q[name]) > 1 {
			return 0, "", httpapi.Errorf(http.StatusBadRequest, name, "query parameter %q given %d times", name, len(q[name]))
		}
	}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > api.MaxPageLimit {
			return 0, "", httpapi.Errorf(http.StatusBadRequest, "limit", "limit %q: want a whole number from 1 to %d", q.Get("limit"), api.MaxPageLimit)
		}
		limit = n
	}
	if q.Has("after") {
		b, err := base64.RawURLEncoding.DecodeString(q.Get("after"))
		if err != nil || len(b) == 0 {
			return 0, "", httpapi.Errorf(http.StatusBadRequest, "after", "after %q: want a cursor from the X-Next-After or Link header of a previous page", q.Get("after"))
		}
		after = string(b)
	}
	return limit, after, nil
}
