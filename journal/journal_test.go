package journal

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/topology"
)

func open(t testing.TB, dir string, logw *bytes.Buffer, mod ...func(*Options)) *Journal {
	t.Helper()
	opt := Options{Dir: dir}
	if logw != nil {
		opt.Logger = slog.New(slog.NewTextHandler(logw, nil))
	}
	for _, f := range mod {
		f(&opt)
	}
	j, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func readAll(t testing.TB, j *Journal) []Record {
	t.Helper()
	recs, err := j.Read(Query{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestAppendReopen(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	j.Append(Record{Kind: "link-down", DPID: 1, Port: 2, Object: "a>b", Message: "cut"},
		Record{Kind: "link-up", DPID: 1, Port: 2, Message: "back"})
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = open(t, dir, nil)
	defer j.Close()
	j.Append(Record{Kind: "switch-connect", DPID: 3, Message: "hello"})
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, j)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3: %+v", len(recs), recs)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	if recs[0].Severity != "critical" || recs[1].Severity != "ok" || recs[2].Kind != "switch-connect" || recs[2].DPID != 3 {
		t.Fatalf("records: %+v", recs)
	}
}

func TestQuery(t *testing.T) {
	j := open(t, t.TempDir(), nil, func(o *Options) { o.SegmentSize, o.MaxAge = 1<<10, 100*365*24*time.Hour }) // many segments
	defer j.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		kind := "port-modify"
		if i%10 == 0 {
			kind = "link-down"
		}
		j.Append(Record{Kind: kind, Time: t0.Add(time.Duration(i) * time.Second), DPID: topology.DPID(i%3 + 1), Message: strconv.Itoa(i)})
		if i%7 == 0 {
			_ = j.Sync()
		}
	}
	_ = j.Sync()
	if st := j.Stats(); st.Segments < 5 {
		t.Fatalf("want several segments, got %+v", st)
	}
	got, err := j.Read(Query{Since: t0.Add(100 * time.Second), Until: t0.Add(200 * time.Second), Kinds: []string{"link-down"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[0].Message != "100" || got[9].Message != "190" {
		t.Fatalf("since/until/kind: %d records %+v", len(got), got)
	}
	got, _ = j.Read(Query{DPIDs: []topology.DPID{2}, Limit: 5, Newest: true})
	if len(got) != 5 || got[4].Message != "298" || got[0].Message != "286" {
		t.Fatalf("newest 5 of dpid 2: %+v", got)
	}
	got, _ = j.Read(Query{After: 295})
	if len(got) != 5 || got[0].Seq != 296 {
		t.Fatalf("after 295: %+v", got)
	}
	got, _ = j.Read(Query{After: 10, Limit: 3})
	if len(got) != 3 || got[0].Seq != 11 || got[2].Seq != 13 {
		t.Fatalf("after 10 limit 3: %+v", got)
	}
}

// A torn tail (a frame cut short) and a corrupt one (a flipped byte) are
// truncated with a warning; the journal opens and keeps appending.
func TestTornAndCorruptTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		harm func(b []byte) []byte
		keep int
	}{
		{"torn", func(b []byte) []byte { return b[:len(b)-7] }, 9},
		{"corrupt", func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b }, 9},
		{"garbage", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5) }, 10},
		{"zeros", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j := open(t, dir, nil)
			for i := range 10 {
				j.Append(Record{Kind: "link-down", Message: fmt.Sprint("event ", i)})
			}
			_ = j.Sync()
			j.Close()
			files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			if len(files) != 1 {
				t.Fatalf("segments: %v", files)
			}
			b, _ := os.ReadFile(files[0])
			if err := os.WriteFile(files[0], tc.harm(b), 0o640); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			j = open(t, dir, &logs)
			defer j.Close()
			recs := readAll(t, j)
			if len(recs) != tc.keep {
				t.Fatalf("kept %d records, want %d", len(recs), tc.keep)
			}
			if tc.keep < 10 && !strings.Contains(logs.String(), "truncating a torn or corrupt tail") {
				t.Fatalf("no warning: %s", logs.String())
			}
			if tc.keep < 10 && j.Stats().Truncated == 0 {
				t.Fatal("truncated bytes not counted")
			}
			j.Append(Record{Kind: "link-up", Message: "after"})
			_ = j.Sync()
			recs = readAll(t, j)
			if last := recs[len(recs)-1]; last.Message != "after" || last.Seq != uint64(tc.keep+1) {
				t.Fatalf("appended after recovery: %+v", last)
			}
		})
	}
}

func TestBounds(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j := open(t, t.TempDir(), nil, func(o *Options) {
		o.MaxSize, o.SegmentSize, o.MaxAge, o.Now = 64<<10, 8<<10, time.Hour, clock
	})
	defer j.Close()
	msg := strings.Repeat("x", 200)
	for i := range 2000 {
		j.Append(Record{Kind: "port-modify", Message: msg, Object: strconv.Itoa(i)})
		if i%50 == 0 {
			_ = j.Sync()
		}
	}
	_ = j.Sync()
	st := j.Stats()
	if st.Bytes > 64<<10+8<<10 || st.First <= 1 || st.Last != 2000 {
		t.Fatalf("size bound not kept: %+v", st)
	}
	recs := readAll(t, j)
	if recs[len(recs)-1].Seq != 2000 || recs[0].Seq != st.First {
		t.Fatalf("first %d last %d, stats %+v", recs[0].Seq, recs[len(recs)-1].Seq, st)
	}
	// two hours later, one new record: every older segment is too old
	now = now.Add(2 * time.Hour)
	j.Append(Record{Kind: "link-up", Message: msg})
	_ = j.Sync()
	for range 40 { // fill the current segment so that a new one starts
		j.Append(Record{Kind: "link-up", Message: msg})
		_ = j.Sync()
	}
	recs = readAll(t, j)
	for _, r := range recs {
		if r.Time.Before(now) && r.Seq < 1990 {
			t.Fatalf("record %d from %s kept past max_age", r.Seq, r.Time)
		}
	}
}

// The kill -9 test: a child process (this test binary again) appends
// bursts and reports each synced sequence number on stdout; it is killed
// mid-burst, and the reopened journal must hold every record up to the
// last reported sync, in order, and accept new appends.
func TestKill9(t *testing.T) {
	if os.Getenv("JOURNAL_CHILD_DIR") != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "JOURNAL_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var synced uint64
	buf := make([]byte, 0, 1<<16)
	deadline := time.Now().Add(20 * time.Second)
	for synced < 20000 && time.Now().Before(deadline) {
		chunk := make([]byte, 4096)
		n, err := out.Read(chunk)
		if err != nil {
			t.Fatalf("child stopped early: %v", err)
		}
		buf = append(buf, chunk[:n]...)
		for {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			if v, err := strconv.ParseUint(string(buf[:i]), 10, 64); err == nil {
				synced = v
			}
			buf = buf[i+1:]
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if synced == 0 {
		t.Fatal("child reported no sync")
	}
	var logs bytes.Buffer
	j := open(t, dir, &logs)
	defer j.Close()
	recs := readAll(t, j)
	if uint64(len(recs)) < synced {
		t.Fatalf("after kill -9: %d records, but %d were synced", len(recs), synced)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) || r.Message != fmt.Sprint("burst record ", r.Seq) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	j.Append(Record{Kind: "link-up", Message: "after the kill"})
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	recs = readAll(t, j)
	if last := recs[len(recs)-1]; last.Message != "after the kill" {
		t.Fatalf("last: %+v", last)
	}
	t.Logf("synced %d before the kill, %d records on disk, warnings: %q", synced, len(recs)-1, logs.String())
}

// TestKillChild is the child of TestKill9: it appends until killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv("JOURNAL_CHILD_DIR")
	if dir == "" {
		t.Skip("only run by TestKill9")
	}
	j, err := Open(Options{Dir: dir, SegmentSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); ; {
		for range 500 {
			j.Append(Record{Kind: "port-modify", DPID: 1, Port: uint32(n % 48), Message: fmt.Sprint("burst record ", n)})
			n++
		}
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		fmt.Println(n - 1)
	}
}
