package controller

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	of "github.com/netrack/openflow"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// The connection-tracking flows the virtual networks use.
var ctSpecs = []string{
	"table=2,priority=300,ip,in_port=3,ct_state=-trk,actions=ct(zone=7,table=2)",
	"table=2,priority=280,ct_state=+inv+trk,actions=drop",
	"table=3,priority=290,ip,nw_ttl=1,actions=drop",
	"table=2,priority=270,ct_state=+est+trk,ct_zone=7,actions=goto_table:3",
	"table=5,priority=100,tcp,ct_state=+new-est+trk,tp_dst=22,actions=ct(commit,zone=7),goto_table:6",
	"table=5,priority=100,ip,ct_state=0x21/0x21,actions=ct,goto_table:6",
	// the external networks' NAT (SNAT, floating IPs, the reverse lookup)
	"table=7,priority=190,ip,ct_state=-trk,actions=ct(zone=61441,table=7,nat)",
	"table=7,priority=160,ip,ct_state=+new+trk,ct_zone=61441,actions=ct(commit,zone=61441,nat(src=192.0.2.10)),goto_table:8",
	"table=7,priority=260,ip,ct_state=+new+trk,actions=ct(commit,zone=61441,nat(dst=10.1.0.11)),dec_ttl,goto_table:8",
	"table=7,priority=160,ip,actions=ct(commit,zone=9,nat(src=192.0.2.10-192.0.2.20)),goto_table:8",
}

// captureOVSFlowMod runs ovs-ofctl -O OpenFlow13 add-flow against a
// minimal switch on a unix socket and returns the flow-mod it sent.
func captureOVSFlowMod(t *testing.T, spec string) []byte {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "sw.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		defer close(got)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte{4, 0, 0, 8, 0, 0, 0, 0}) // hello, OpenFlow 1.3
		for {
			h := make([]byte, 8)
			if _, err := io.ReadFull(c, h); err != nil {
				return
			}
			body := make([]byte, int(binary.BigEndian.Uint16(h[2:]))-8)
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			switch h[1] {
			case 2: // echo
				h[1] = 3
				c.Write(append(h, body...))
			case 18: // multipart request (ovs-ofctl asks for the table features): one bare table
				r := make([]byte, 80)
				copy(r, []byte{4, 19, 0, 80, h[4], h[5], h[6], h[7], body[0], body[1]})
				r[17], r[18] = 64, 254 // ofp_table_features of table 254 (so any goto_table is valid), no properties
				c.Write(r)
			case 14: // flow mod
				got <- append(h, body...)
			case 20: // barrier
				c.Write([]byte{4, 21, 0, 8, h[4], h[5], h[6], h[7]})
			}
		}
	}()
	out, err := exec.Command("ovs-ofctl", "--no-names", "-O", "OpenFlow13", "add-flow", "unix:"+sock, spec).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-ofctl add-flow %s: %v\n%s", spec, err, out)
	}
	ln.Close()
	b := <-got
	if b == nil {
		t.Fatalf("ovs-ofctl sent no flow mod for %s", spec)
	}
	return b
}

// splitFlowMod returns a flow-mod's fixed part (without the xid), its
// match fields (sorted: the order is free) and its instruction bytes.
func splitFlowMod(t *testing.T, b []byte) (fixed []byte, fields []string, inst []byte) {
	t.Helper()
	fixed = append(append([]byte(nil), b[:4]...), b[8:48]...)
	mlen := int(binary.BigEndian.Uint16(b[50:]))
	for m := b[52 : 48+mlen]; len(m) >= 4; {
		l := 4 + int(m[3])
		fields = append(fields, hex.EncodeToString(m[:l]))
		m = m[l:]
	}
	sort.Strings(fields)
	return fixed, fields, b[48+(mlen+7)/8*8:]
}

// TestCTEncodingMatchesOVS: the ct action and the ct_state/ct_zone
// matches are put on the wire byte for byte as ovs-ofctl puts them, and
// read back (from what the switch would report) as they were written.
func TestCTEncodingMatchesOVS(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil {
		t.Skip("ovs-ofctl not installed (make deps)")
	}
	for _, spec := range ctSpecs {
		f, err := ParseFlow(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		ours, err := ofwire.Encode(of.TypeFlowMod, 1, f.flowMod(ofp.FlowAdd))
		if err != nil {
			t.Fatal(err)
		}
		theirs := captureOVSFlowMod(t, spec)
		of1, mf1, in1 := splitFlowMod(t, ours)
		of2, mf2, in2 := splitFlowMod(t, theirs)
		if !bytes.Equal(of1[:2], of2[:2]) || !bytes.Equal(of1[4:], of2[4:]) || strings.Join(mf1, " ") != strings.Join(mf2, " ") || !bytes.Equal(in1, in2) {
			t.Errorf("%s:\nours   %x\novs    %x", spec, ours, theirs)
		}
		// printing: what ovs-ofctl prints for our bytes, and our own format
		out, err := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(ours)).CombinedOutput()
		if err != nil {
			t.Fatalf("ofp-print: %v\n%s", err, out)
		}
		acts := FormatInstructions(f.Instructions)
		if !strings.Contains(string(out), "actions="+acts) {
			t.Errorf("%s: ovs-ofctl prints %q, we print actions=%s", spec, out, acts)
		}
		if f2, err := ParseFlow("actions=" + acts); err != nil || FormatInstructions(f2.Instructions) != acts {
			t.Errorf("%s: %q does not parse back (%v)", spec, acts, err)
		}
	}
}

func TestCTDecodeAndFormat(t *testing.T) {
	f, err := ParseFlow("table=8,priority=100,tcp,ct_state=+trk+new-est,ct_zone=7,tp_dst=22,actions=ct(commit,zone=7,table=9),goto_table:6")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := FormatMatch(f.Match), "dl_type=0x800,nw_proto=6,ct_state=+new-est+trk,ct_zone=7,tcp_dst=22"; got != want {
		t.Errorf("match %q, want %q", got, want)
	}
	// through the wire decoder (as the flow listing reads the switch)
	var buf bytes.Buffer
	(&ofp.Match{Type: ofp.MatchTypeXM, Fields: f.Match}).WriteTo(&buf)
	for _, in := range f.Instructions {
		in.WriteTo(&buf)
	}
	entry := make([]byte, 48, 48+buf.Len())
	entry = append(entry, buf.Bytes()...)
	binary.BigEndian.PutUint16(entry, uint16(len(entry)))
	entry[2] = 8
	stats, err := ofwire.DecodeFlowStats(entry)
	if err != nil || len(stats) != 1 {
		t.Fatalf("decode: %v (%d entries)", err, len(stats))
	}
	if got, want := FormatMatch(stats[0].Match), "dl_type=0x800,nw_proto=6,ct_state=+new-est+trk,ct_zone=7,tcp_dst=22"; got != want {
		t.Errorf("decoded match %q, want %q", got, want)
	}
	if got, want := FormatInstructions(stats[0].Instructions), "ct(commit,table=9,zone=7),goto_table:6"; got != want {
		t.Errorf("actions %q, want %q", got, want)
	}
	for _, bad := range []string{"ct_state=+bogus,actions=drop", "ct_state=+trk+trk,actions=drop", "ct_state=trk,actions=drop",
		"ip,actions=ct(zone=70000)", "ip,actions=ct(alg=ftp)", "ip,actions=ct(nat(src=10.0.0.300))", "ip,actions=ct(nat(any=1.2.3.4))", "ip,actions=ct(table=255)", "ip,actions=ct(zone=1"} {
		if _, err := ParseFlow(bad); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
	// the flush message: experimenter header, NXT_CT_FLUSH_ZONE, zone
	b, _ := ofwire.Encode(of.TypeExperiment, 9, ofwire.CTFlushZone{Zone: 0x1234})
	if want := "0404001800000009000023200000001d0000000000001234"; hex.EncodeToString(b) != want {
		t.Errorf("flush %x", b)
	}
	if out, err := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(b)).CombinedOutput(); err == nil {
		if !strings.Contains(string(out), "NXT_CT_FLUSH_ZONE") || !strings.Contains(string(out), "zone_id=4660") {
			t.Errorf("ovs-ofctl reads our flush as %s", out)
		}
	}
}

// TestCTFlushEncode: the per-connection flush (NXT_CT_FLUSH) carries the
// zone and the original tuple's set fields, and Open vSwitch's own
// decoder reads them back.
func TestCTFlushEncode(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("203.0.113.10")
	f := ofwire.CTFlush{Zone: 7, Proto: 6, Src: src, Dst: dst, SrcPort: 1234, DstPort: 80}
	b, _ := ofwire.Encode(of.TypeExperiment, 9, f)
	want := "04040068000000090000232000000020" + // header, NX, NXT_CT_FLUSH
		"0600000000000000" + // proto tcp, zeros
		"0002000600070000" + // zone 7
		"0000004800000000" + // orig tuple, 0x48 long, padding
		"0000001400000000000000000000ffff0a00000500000000" + // src ::ffff:10.0.0.5
		"0001001400000000000000000000ffffcb00710a00000000" + // dst
		"0002000604d20000" + "0003000600500000" // ports
	if hex.EncodeToString(b) != want {
		t.Errorf("flush\n got %x\nwant %s", b, want)
	}
	if int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		t.Errorf("length field %d, message %d bytes", binary.BigEndian.Uint16(b[2:]), len(b))
	}
	// only the destination: zone and one address, nothing else
	d, _ := ofwire.Encode(of.TypeExperiment, 1, ofwire.CTFlush{Zone: 3, Dst: dst})
	if len(d) != 8+8+8+8+8+24 {
		t.Errorf("dst-only flush is %d bytes: %x", len(d), d)
	}
	if got, want := (ofwire.CTFlush{Zone: 3, Dst: dst}).String(), "zone=3 'ct_nw_dst=203.0.113.10'"; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	out, err := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(b)).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ovs-ofctl: %v %s", err, out)
		}
		t.Skipf("no ovs-ofctl: %v", err)
	}
	for _, s := range []string{"NXT_CT_FLUSH", "zone=7", "ct_nw_src=10.0.0.5", "ct_nw_dst=203.0.113.10", "ct_tp_src=1234", "ct_tp_dst=80", "ct_nw_proto=6"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("ovs-ofctl reads our flush without %q: %s", s, out)
		}
	}
	if strings.Contains(string(out), "error") {
		t.Errorf("ovs-ofctl: %s", out)
	}
	out, _ = exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(d)).CombinedOutput()
	if !strings.Contains(string(out), "zone=3 'ct_nw_src=::,ct_nw_dst=203.0.113.10") {
		t.Errorf("ovs-ofctl reads the dst-only flush as %s", out)
	}
}

// FuzzParseFlow: any spec either fails with an error or yields a flow
// whose printed actions parse back to the same text; nothing panics.
func FuzzParseFlow(f *testing.F) {
	for _, s := range ctSpecs {
		f.Add(s)
	}
	f.Add("ip,ct_state=+trk-new+est,actions=ct(commit,zone=1,table=4)")
	f.Add("ct_state=0x22/0xff,actions=drop")
	f.Fuzz(func(t *testing.T, spec string) {
		fl, err := ParseFlow(spec)
		if err != nil {
			return
		}
		FormatMatch(fl.Match)
		acts := FormatInstructions(fl.Instructions)
		if again, err := ParseFlow("actions=" + acts); err == nil && FormatInstructions(again.Instructions) != acts {
			t.Fatalf("%q prints %q, which parses to %q", spec, acts, FormatInstructions(again.Instructions))
		}
	})
}
