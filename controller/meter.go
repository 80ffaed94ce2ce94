package controller

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	of "github.com/netrack/openflow"
	"github.com/netrack/openflow/ofp"
)

// Meter is an OpenFlow meter with one drop band in packets per second:
// what a flow sends through it above PPS (with Burst packets of slack)
// is dropped by the switch.
type Meter struct {
	ID    uint32
	PPS   uint32
	Burst uint32
}

// MeterStats are the counters of one meter.
type MeterStats struct {
	ID    uint32 `json:"id"`
	Flows uint32 `json:"flows"`
	// Packets and Bytes entered the meter; Dropped of them were over its
	// rate (the drop band's count).
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Dropped uint64 `json:"dropped"`
}

const (
	mpMeterStats  = 9
	mpMeterConfig = 10
)

func (m Meter) mod(cmd ofp.MeterCommand) io.WriterTo {
	return &ofp.MeterMod{Command: cmd, Flags: ofp.MeterFlagPacketPerSec | ofp.MeterFlagBurst | ofp.MeterFlagStats,
		Meter: ofp.Meter(m.ID), Bands: ofp.MeterBands{&ofp.MeterBandDrop{Rate: m.PPS, BurstSize: m.Burst}}}
}

func (s *Session) meterMods(ctx context.Context, cmd ofp.MeterCommand, ms []Meter) error {
	bodies := make([]io.WriterTo, len(ms))
	for i, m := range ms {
		bodies[i] = m.mod(cmd)
	}
	return s.sendChecked(ctx, of.TypeMeterMod, bodies)
}

// AddMeters adds meters; adding one that exists is an error.
func (s *Session) AddMeters(ctx context.Context, ms ...Meter) error {
	return s.meterMods(ctx, ofp.MeterAdd, ms)
}

// ModifyMeters changes the rates of existing meters.
func (s *Session) ModifyMeters(ctx context.Context, ms ...Meter) error {
	return s.meterMods(ctx, ofp.MeterModify, ms)
}

// DeleteMeters deletes meters (and, by OpenFlow's rules, the flows that
// use them).
func (s *Session) DeleteMeters(ctx context.Context, ids ...uint32) error {
	ms := make([]Meter, len(ids))
	for i, id := range ids {
		ms[i] = Meter{ID: id}
	}
	bodies := make([]io.WriterTo, len(ms))
	for i, m := range ms {
		bodies[i] = &ofp.MeterMod{Command: ofp.MeterDelete, Meter: ofp.Meter(m.ID)}
	}
	return s.sendChecked(ctx, of.TypeMeterMod, bodies)
}

// Meters returns the switch's meters (those with one packets-per-second
// drop band exactly; others are returned with PPS 0), sorted by id.
func (s *Session) Meters(ctx context.Context) ([]Meter, error) {
	body, err := s.Multipart(ctx, mpMeterConfig, &ofp.MeterConfigRequest{Meter: ofp.MeterAll})
	if err != nil {
		return nil, err
	}
	out, err := decodeMeterConfigs(body)
	if err != nil {
		return nil, fmt.Errorf("dpid %016x: meter config: %w", s.DPID(), err)
	}
	return out, nil
}

// MeterStats returns the counters of every meter, sorted by id.
func (s *Session) MeterStats(ctx context.Context) ([]MeterStats, error) {
	body, err := s.Multipart(ctx, mpMeterStats, &ofp.MeterStatsRequest{Meter: ofp.MeterAll})
	if err != nil {
		return nil, err
	}
	out, err := decodeMeterStats(body)
	if err != nil {
		return nil, fmt.Errorf("dpid %016x: meter stats: %w", s.DPID(), err)
	}
	return out, nil
}

func decodeMeterConfigs(b []byte) ([]Meter, error) {
	var out []Meter
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("truncated entry (%d bytes)", len(b))
		}
		n := int(binary.BigEndian.Uint16(b))
		if n < 8 || n > len(b) {
			return nil, fmt.Errorf("entry length %d of %d bytes", n, len(b))
		}
		flags := binary.BigEndian.Uint16(b[2:])
		m := Meter{ID: binary.BigEndian.Uint32(b[4:])}
		bands := b[8:n]
		if len(bands) == 16 && binary.BigEndian.Uint16(bands) == uint16(ofp.MeterBandTypeDrop) && flags&uint16(ofp.MeterFlagPacketPerSec) != 0 {
			m.PPS = binary.BigEndian.Uint32(bands[4:])
			m.Burst = binary.BigEndian.Uint32(bands[8:])
		}
		out = append(out, m)
		b = b[n:]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func decodeMeterStats(b []byte) ([]MeterStats, error) {
	var out []MeterStats
	for len(b) > 0 {
		if len(b) < 40 {
			return nil, fmt.Errorf("truncated entry (%d bytes)", len(b))
		}
		n := int(binary.BigEndian.Uint16(b[4:]))
		if n < 40 || n > len(b) || (n-40)%16 != 0 {
			return nil, fmt.Errorf("entry length %d of %d bytes", n, len(b))
		}
		st := MeterStats{ID: binary.BigEndian.Uint32(b), Flows: binary.BigEndian.Uint32(b[12:]),
			Packets: binary.BigEndian.Uint64(b[16:]), Bytes: binary.BigEndian.Uint64(b[24:])}
		for band := b[40:n]; len(band) >= 16; band = band[16:] {
			st.Dropped += binary.BigEndian.Uint64(band)
		}
		out = append(out, st)
		b = b[n:]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
