package web_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// pages follows a list from first through its Link headers and returns
// every page's items (decoded into T).
func pages[T any](t *testing.T, env *webtest.Env, first string) [][]T {
	t.Helper()
	var out [][]T
	path := first
	for i := 0; i < 100; i++ {
		r := do(t, env, "GET", path, "")
		var page []T
		r.decode(t, 200, &page)
		out = append(out, page)
		link := r.header.Get("Link")
		if link == "" {
			return out
		}
		m := nextLink.FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("Link header %q", link)
		}
		path = m[1]
	}
	t.Fatal("more than 100 pages")
	return nil
}

func TestPaginationHostsAndLinks(t *testing.T) {
	m := topology.New(topology.Options{})
	var ports []topology.Port
	for p := uint32(1); p <= 30; p++ {
		ports = append(ports, topology.Port{Number: p, Name: fmt.Sprint("p", p), Up: true})
	}
	m.SwitchUp(topology.Switch{DPID: 1}, ports)
	m.SwitchUp(topology.Switch{DPID: 2}, ports)
	for p := uint32(21); p <= 30; p++ {
		a, b := topology.Endpoint{DPID: 1, Port: p}, topology.Endpoint{DPID: 2, Port: p}
		m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
		m.LinkSeen(b, a, topology.LinkDirect, time.Millisecond)
	}
	for i := 1; i <= 20; i++ {
		m.HostSeen(fmt.Sprintf("02:00:00:00:00:%02x", i), "", topology.Endpoint{DPID: 1, Port: uint32(i)})
	}
	env := webtest.Start(t, web.WithTopology(m))

	// hosts: 20 in pages of 7, in MAC order, nothing lost or repeated
	got := pages[api.Host](t, env, "/api/v1/hosts?limit=7")
	if len(got) != 3 || len(got[0]) != 7 || len(got[2]) != 6 {
		t.Fatalf("pages of %v hosts", lens(got))
	}
	i := 0
	for _, page := range got {
		for _, h := range page {
			i++
			if want := fmt.Sprintf("02:00:00:00:00:%02x", i); h.MAC != want {
				t.Fatalf("host %d is %s, want %s", i, h.MAC, want)
			}
		}
	}
	r := do(t, env, "GET", "/api/v1/hosts?limit=7", "")
	if r.header.Get("X-Total-Count") != "20" || r.header.Get("X-Next-After") == "" {
		t.Fatalf("headers %v", r.header)
	}
	// a filter stays in the next link
	got = pages[api.Host](t, env, "/api/v1/hosts?dpid=1&limit=15")
	if len(got) != 2 || len(got[1]) != 5 {
		t.Fatalf("filtered pages of %v hosts", lens(got))
	}
	// a page after a host that has since gone starts at the right place
	cursor := do(t, env, "GET", "/api/v1/hosts?limit=3", "").header.Get("X-Next-After") // after ...:03
	m.ExpireHosts(time.Now().Add(time.Hour))                                            // every host goes
	m.HostSeen("02:00:00:00:00:02", "", topology.Endpoint{DPID: 1, Port: 2})
	m.HostSeen("02:00:00:00:00:09", "", topology.Endpoint{DPID: 1, Port: 9})
	var after []api.Host
	do(t, env, "GET", "/api/v1/hosts?after="+cursor, "").decode(t, 200, &after)
	if len(after) != 1 || after[0].MAC != "02:00:00:00:00:09" {
		t.Fatalf("after a vanished host: %+v", after)
	}

	// links: 20 directed, ordered by source then destination
	lp := pages[api.Link](t, env, "/api/v1/links?limit=6")
	if fmt.Sprint(lens(lp)) != "[6 6 6 2]" {
		t.Fatalf("pages of %v links", lens(lp))
	}
	var prev string
	for _, page := range lp {
		for _, l := range page {
			k := fmt.Sprintf("%s/%03d>%s/%03d", l.Src.DPID, l.Src.Port, l.Dst.DPID, l.Dst.Port)
			if k <= prev {
				t.Fatalf("link %s after %s", k, prev)
			}
			prev = k
		}
	}
	// without limit or after the answer is the plain list, without paging headers
	r = do(t, env, "GET", "/api/v1/links", "")
	if r.header.Get("X-Total-Count") != "" || r.header.Get("Link") != "" {
		t.Fatalf("paging headers on an unpaged list: %v", r.header)
	}
}

func lens[T any](pp [][]T) []int {
	var out []int
	for _, p := range pp {
		out = append(out, len(p))
	}
	return out
}

func TestPaginationEventsLikeALog(t *testing.T) {
	m := topology.New(topology.Options{})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 1; i <= 10; i++ {
		m.AddEvent(topology.Event{Kind: "test", Time: t0.Add(time.Duration(i) * time.Second), Message: fmt.Sprint("event ", i)})
	}
	env := webtest.Start(t, web.WithTopology(m))
	// limit alone: the newest
	r := do(t, env, "GET", "/api/v1/topology/events?limit=3", "")
	var evs []topology.Event
	r.decode(t, 200, &evs)
	if len(evs) != 3 || evs[0].Message != "event 8" || evs[2].Message != "event 10" {
		t.Fatalf("newest 3: %+v", evs)
	}
	if r.header.Get("Link") != "" {
		t.Fatalf("a Link to older events: %q", r.header.Get("Link"))
	}
	cursor := r.header.Get("X-Next-After")
	// nothing newer yet: empty, and the same cursor again
	r = do(t, env, "GET", "/api/v1/topology/events?after="+cursor, "")
	r.decode(t, 200, &evs)
	if len(evs) != 0 || r.header.Get("X-Next-After") != cursor {
		t.Fatalf("nothing newer: %+v, cursor %q (was %q)", evs, r.header.Get("X-Next-After"), cursor)
	}
	// new events: exactly those, oldest first, at most limit
	for i := 11; i <= 15; i++ {
		m.AddEvent(topology.Event{Kind: "test", Time: t0.Add(time.Duration(i) * time.Second), Message: fmt.Sprint("event ", i)})
	}
	got := pages[topology.Event](t, env, "/api/v1/topology/events?limit=2&after="+url.QueryEscape(cursor))
	var msgs []string
	for _, p := range got {
		for _, e := range p {
			msgs = append(msgs, strings.TrimPrefix(e.Message, "event "))
		}
	}
	if strings.Join(msgs, ",") != "11,12,13,14,15" {
		t.Fatalf("followed the log: %v in pages %v", msgs, lens(got))
	}
	// with a filter
	do(t, env, "GET", "/api/v1/topology/events?kind=other&limit=2", "").decode(t, 200, &evs)
	if len(evs) != 0 {
		t.Fatalf("kind=other: %+v", evs)
	}
}

func TestPaginationFlows(t *testing.T) {
	env := webtest.Start(t)
	env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	for i := 1; i <= 9; i++ {
		do(t, env, "POST", "/api/v1/switches/1/flows", fmt.Sprintf(`{"flow": "table=%d,priority=%d,udp,tp_dst=%d,actions=drop", "id": %d}`, i%2, 100+i, 1000+i, i)).decode(t, 201, nil)
	}
	got := pages[api.Flow](t, env, "/api/v1/switches/1/flows?limit=4")
	var all []api.Flow
	for _, p := range got {
		all = append(all, p...)
	}
	if len(all) != 9 {
		t.Fatalf("%d flows in pages %v", len(all), lens(got))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Table > b.Table || (a.Table == b.Table && a.Priority < b.Priority) {
			t.Fatalf("flow %d (table %d priority %d) after table %d priority %d", i, b.Table, b.Priority, a.Table, a.Priority)
		}
	}
	// the route's own filters still apply
	got = pages[api.Flow](t, env, "/api/v1/switches/1/flows?table=1&limit=2")
	if fmt.Sprint(lens(got)) != "[2 2 1]" {
		t.Fatalf("table 1 in pages of %v", lens(got))
	}
	// and its errors come through
	do(t, env, "GET", "/api/v1/switches/1/flows?table=999&limit=2", "").wantError(t, 400, "table", "table")
	do(t, env, "GET", "/api/v1/switches/ff/flows?limit=2", "").wantError(t, 404, "dpid", "not connected")
}

func TestPaginationBadInput(t *testing.T) {
	env, _ := startTopology(t)
	for _, tc := range []struct{ query, field, msg string }{
		{"limit=0", "limit", "want a whole number from 1 to " + strconv.Itoa(api.MaxPageLimit)},
		{"limit=-1", "limit", "want a whole number"},
		{"limit=x", "limit", "want a whole number"},
		{"limit=1000001", "limit", "want a whole number"},
		{"limit=1&limit=2", "limit", "given 2 times"},
		{"after=***", "after", "want a cursor"},
		{"after=", "after", "want a cursor"},
		{"after=a&after=b", "after", "given 2 times"},
		{"limit=1&bogus=1", "bogus", "unknown query parameter"},
	} {
		for _, path := range []string{"/api/v1/hosts", "/api/v1/links", "/api/v1/topology/events"} {
			do(t, env, "GET", path+"?"+tc.query, "").wantError(t, 400, tc.field, tc.msg)
		}
	}
}

func TestPaginationAlertHistory(t *testing.T) {
	env, eng := streamStatsEnv(t)
	one := uint32(1)
	for i, v := range []float64{100, 200, 300} {
		th := alerts.Threshold(v)
		if _, err := eng.AddRule(alerts.Rule{Name: fmt.Sprint("busy-", i), Metric: alerts.MetricPortRxPps, Selector: alerts.Selector{DPID: "1", Port: &one}, Op: ">", Value: &th}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(eng.History()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d alert events", len(eng.History()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// limit alone is the handler's own: the newest N
	r := do(t, env, "GET", "/api/v1/alerts/history?limit=1", "")
	var evs []alerts.Event
	r.decode(t, 200, &evs)
	if len(evs) != 1 {
		t.Fatalf("limit=1: %d events", len(evs))
	}
	// a cursor from a full read, then nothing newer
	r = do(t, env, "GET", "/api/v1/alerts/history?after="+cursorOf(t, env), "")
	r.decode(t, 200, &evs)
	if len(evs) != 0 {
		t.Fatalf("after the newest: %d events", len(evs))
	}
	// paging through from the start with a cursor before everything
	got := pages[alerts.Event](t, env, "/api/v1/alerts/history?limit=2&after=MA") // "0": before any time key
	if fmt.Sprint(lens(got)) != "[2 1]" {
		t.Fatalf("history in pages of %v", lens(got))
	}
	do(t, env, "GET", "/api/v1/alerts/history?limit=0", "").wantError(t, 400, "limit", "limit 0")
}

// cursorOf pages the whole history once and returns the cursor of its end.
func cursorOf(t *testing.T, env *webtest.Env) string {
	t.Helper()
	r := do(t, env, "GET", "/api/v1/alerts/history?limit=1000&after=MA", "")
	c := r.header.Get("X-Next-After")
	if c == "" {
		t.Fatalf("no X-Next-After: %v", r.header)
	}
	return c
}

// Every page of a flow listing comes from one dump of the switch: paging
// through 30 flows two at a time asks the switch once, the pages do not
// change when the table does, and a cursor whose dump is gone continues
// after its sort key from a fresh dump.
func TestPaginationFlowsFromOneDump(t *testing.T) {
	env := webtest.Start(t)
	env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	for i := 1; i <= 30; i++ {
		do(t, env, "POST", "/api/v1/switches/1/flows", fmt.Sprintf(`{"flow": "table=1,priority=%d,udp,tp_dst=%d,actions=drop", "id": %d}`, 100+i, 1000+i, i)).decode(t, 201, nil)
	}
	sess := env.Ctl.Switch(1)
	before := sess.Stats().TxMessages
	got := pages[api.Flow](t, env, "/api/v1/switches/1/flows?limit=2")
	sent := sess.Stats().TxMessages - before
	if len(got) != 15 {
		t.Fatalf("pages %v, want 15 of 2", lens(got))
	}
	if sent > 2 { // the one dump, and perhaps an echo
		t.Fatalf("15 pages sent %d messages to the switch, want one dump", sent)
	}
	seen := map[string]bool{}
	prio := 65536
	for _, p := range got {
		for _, f := range p {
			if seen[f.Cookie] || int(f.Priority) >= prio {
				t.Fatalf("flow %s (priority %d) repeated or out of order", f.Cookie, f.Priority)
			}
			seen[f.Cookie], prio = true, int(f.Priority)
		}
	}

	// the table changes between pages: the listing does not
	first := do(t, env, "GET", "/api/v1/switches/1/flows?limit=10", "")
	first.decode(t, 200, nil)
	cursor := first.header.Get("X-Next-After")
	do(t, env, "POST", "/api/v1/switches/1/flows", `{"flow": "table=1,priority=115,udp,tp_dst=7,actions=drop", "id": 99}`).decode(t, 201, nil)
	var rest []api.Flow
	r := do(t, env, "GET", "/api/v1/switches/1/flows?limit=100&after="+url.QueryEscape(cursor), "")
	r.decode(t, 200, &rest)
	if len(rest) != 20 || r.header.Get("X-Total-Count") != "30" {
		t.Fatalf("after a change, the rest of the listing has %d flows of %s, want 20 of 30", len(rest), r.header.Get("X-Total-Count"))
	}

	// a cursor whose dump is gone: the next page starts after its key,
	// from a fresh dump that holds the new flow
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(string(raw), "|", 4)
	stale := base64.RawURLEncoding.EncodeToString([]byte("f1|0|0|" + parts[3]))
	r = do(t, env, "GET", "/api/v1/switches/1/flows?limit=100&after="+stale, "")
	r.decode(t, 200, &rest)
	if len(rest) != 21 || r.header.Get("X-Total-Count") != "31" || rest[0].Priority != 120 {
		t.Fatalf("stale cursor: %d flows of %s, first priority %d; want 21 of 31 from priority 120", len(rest), r.header.Get("X-Total-Count"), rest[0].Priority)
	}
	do(t, env, "GET", "/api/v1/switches/1/flows?after=bm9wZQ", "").wantError(t, 400, "after", "cursor")
}
