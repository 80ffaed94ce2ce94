package controller

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/netrack/openflow/ofp"
)

func TestMeterRepliesDecode(t *testing.T) {
	var cfg bytes.Buffer
	for _, m := range []Meter{{ID: 0x10002, PPS: 100, Burst: 100}, {ID: 7, PPS: 5, Burst: 1}} {
		mc := &ofp.MeterConfig{Flags: ofp.MeterFlagPacketPerSec | ofp.MeterFlagBurst, Meter: ofp.Meter(m.ID),
			Bands: ofp.MeterBands{&ofp.MeterBandDrop{Rate: m.PPS, BurstSize: m.Burst}}}
		if _, err := mc.WriteTo(&cfg); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := decodeMeterConfigs(cfg.Bytes())
	if err != nil || len(ms) != 2 || ms[0] != (Meter{ID: 7, PPS: 5, Burst: 1}) || ms[1] != (Meter{ID: 0x10002, PPS: 100, Burst: 100}) {
		t.Fatalf("%+v %v", ms, err)
	}
	// stats: 40-byte header + one band
	st := make([]byte, 56)
	binary.BigEndian.PutUint32(st, 0x10002)
	binary.BigEndian.PutUint16(st[4:], 56)
	binary.BigEndian.PutUint32(st[12:], 2)
	binary.BigEndian.PutUint64(st[16:], 1000)
	binary.BigEndian.PutUint64(st[24:], 64000)
	binary.BigEndian.PutUint64(st[40:], 900)
	ss, err := decodeMeterStats(st)
	if err != nil || len(ss) != 1 || ss[0] != (MeterStats{ID: 0x10002, Flows: 2, Packets: 1000, Bytes: 64000, Dropped: 900}) {
		t.Fatalf("%+v %v", ss, err)
	}
	for _, bad := range [][]byte{st[:39], append(append([]byte(nil), st[:4]...), 0xff, 0xff), {0, 4, 0, 0, 0, 0, 0, 1}} {
		if _, err := decodeMeterStats(bad); err == nil {
			t.Errorf("stats %x accepted", bad)
		}
		if _, err := decodeMeterConfigs(bad[:min(len(bad), 7)]); err == nil && len(bad) > 0 {
			t.Errorf("config %x accepted", bad[:min(len(bad), 7)])
		}
	}
}

func FuzzMeterReplies(f *testing.F) {
	f.Add([]byte{0, 24, 0, 5, 0, 0, 0, 7, 0, 1, 0, 16, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeMeterConfigs(b)
		decodeMeterStats(b)
	})
}
