package ofwire

import (
	"bytes"
	"testing"
)

// FuzzDecoders feeds arbitrary bodies to every decoder of messages that
// come from switches. They may fail, but must not panic or hang.
func FuzzDecoders(f *testing.F) {
	f.Add([]byte{0, 1, 0, 8, 0, 0, 0, 0x10})
	f.Add(make([]byte, 64))
	f.Add(make([]byte, 112))
	// a flow-stats entry: 48 fixed bytes, empty OXM match, one output action
	fs := make([]byte, 48, 80)
	fs[1] = 72
	fs = append(fs, 0, 1, 0, 4, 0, 0, 0, 0)
	fs = append(fs, 0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0xff, 0xff, 0, 0, 0, 0, 0, 0)
	f.Add(fs)
	// the same with an apply-actions of ct(commit,zone=1,table=5)
	ct := make([]byte, 48, 96)
	ct[1] = 88
	ct = append(ct, 0, 1, 0, 4, 0, 0, 0, 0)
	ct = append(ct, 0, 4, 0, 32, 0, 0, 0, 0, 0xff, 0xff, 0, 24, 0, 0, 0x23, 0x20, 0, 35, 0, 1, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0)
	f.Add(ct)
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeHello(b)
		DecodeFeatures(b)
		DecodePorts(b)
		DecodePortStatus(b)
		DecodePortStats(b)
		DecodeFlowStats(b)
		DecodeTableStats(b)
		DecodeGroupDesc(b)
		DecodeGroupStats(b)
		DecodeDesc(b)
		DecodePacketIn(b)
		DecodeFlowRemoved(b)
		DecodeError(b)
		DecodeRoleReply(b)
		DecodeFlowMod(b)
		SplitMultipart(b)
	})
}

// FuzzReader reads messages from an arbitrary stream until it fails.
func FuzzReader(f *testing.F) {
	f.Add([]byte{4, 0, 0, 8, 0, 0, 0, 1, 4, 2, 0, 8, 0, 0, 0, 2})
	f.Add([]byte{4, 0, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for i := 0; i < 1000; i++ {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			if int(m.Length) != len(m.Body)+HeaderLen {
				t.Fatalf("length %d but body %d", m.Length, len(m.Body))
			}
			r.Version = Version
		}
	})
}
