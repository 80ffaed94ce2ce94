// Package exporters sends what Satellite measures and learns to the tools
// operators already run: InfluxDB (exporters/influx), Fluentd or Fluent Bit
// over the Forward protocol (exporters/fluent) and Prometheus
// (exporters/prom).
//
// Everything travels as Points: a measurement name, tags (indexed,
// low-cardinality strings), typed fields and a time, the model InfluxDB
// uses. Adapters turn the collector's samples, the alert engine's events
// and the topology model's change stream into points (see convert.go and
// topology.go) and hand them to a Sink, normally a Set that fans them out
// to every configured exporter. Handing points over never blocks: every
// push exporter has its own bounded queue (exporters/queue) and drops the
// oldest points, counted, when a destination stays down longer than its
// buffer lasts. The schema is documented in docs/exporters.md.
package exporters

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Point is one measurement at one time.
type Point struct {
	Measurement string
	Tags        []Tag // sorted by key (Sort does it)
	Fields      []Field
	Time        time.Time
}

// Tag is an indexed string attribute of a point.
type Tag struct{ Key, Value string }

// Field is a measured value of a point.
type Field struct {
	Key   string
	Value Value
}

// Kind is the type of a field value.
type Kind uint8

// Field kinds.
const (
	KindInt Kind = iota + 1
	KindUint
	KindFloat
	KindString
	KindBool
)

// Value is a typed field value without boxing.
type Value struct {
	kind Kind
	bits uint64 // int64, uint64, float64 bits or bool
	str  string
}

// Int, Uint, Float, String and Bool make field values.
func Int(v int64) Value     { return Value{kind: KindInt, bits: uint64(v)} }
func Uint(v uint64) Value   { return Value{kind: KindUint, bits: v} }
func Float(v float64) Value { return Value{kind: KindFloat, bits: math.Float64bits(v)} }
func String(v string) Value { return Value{kind: KindString, str: v} }
func Bool(v bool) Value {
	if v {
		return Value{kind: KindBool, bits: 1}
	}
	return Value{kind: KindBool}
}

// Kind returns the value's type (0 for the zero Value).
func (v Value) Kind() Kind { return v.kind }

// IntValue, UintValue, FloatValue, StringValue and BoolValue return the
// value as that type; they are meaningful only for the matching Kind.
func (v Value) IntValue() int64     { return int64(v.bits) }
func (v Value) UintValue() uint64   { return v.bits }
func (v Value) FloatValue() float64 { return math.Float64frombits(v.bits) }
func (v Value) StringValue() string { return v.str }
func (v Value) BoolValue() bool     { return v.bits != 0 }

// Number returns a numeric value as float64 (bools are 0 or 1); ok is
// false for strings.
func (v Value) Number() (f float64, ok bool) {
	switch v.kind {
	case KindInt:
		return float64(int64(v.bits)), true
	case KindUint:
		return float64(v.bits), true
	case KindFloat:
		return math.Float64frombits(v.bits), true
	case KindBool:
		return float64(v.bits), true
	}
	return 0, false
}

// Any returns the value as int64, uint64, float64, string or bool (nil
// for the zero Value).
func (v Value) Any() any {
	switch v.kind {
	case KindInt:
		return int64(v.bits)
	case KindUint:
		return v.bits
	case KindFloat:
		return math.Float64frombits(v.bits)
	case KindString:
		return v.str
	case KindBool:
		return v.bits != 0
	}
	return nil
}

// String formats the value for humans and logs.
func (v Value) String() string {
	switch v.kind {
	case KindInt:
		return strconv.FormatInt(int64(v.bits), 10)
	case KindUint:
		return strconv.FormatUint(v.bits, 10)
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v.bits), 'g', -1, 64)
	case KindString:
		return v.str
	case KindBool:
		return strconv.FormatBool(v.bits != 0)
	}
	return ""
}

// Tag returns the value of tag key ("" when absent).
func (p *Point) Tag(key string) string {
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// Field returns the value of field key.
func (p *Point) Field(key string) (Value, bool) {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return Value{}, false
}

// Sort sorts the tags by key (InfluxDB's canonical order).
func (p *Point) Sort() {
	if !sort.SliceIsSorted(p.Tags, func(i, j int) bool { return p.Tags[i].Key < p.Tags[j].Key }) {
		sort.Slice(p.Tags, func(i, j int) bool { return p.Tags[i].Key < p.Tags[j].Key })
	}
}

// Size is the approximate encoded size of the point in bytes, the unit of
// the exporters' byte limits (close to its InfluxDB line protocol length).
func (p *Point) Size() int {
	n := len(p.Measurement) + 20 // timestamp, separators
	for _, t := range p.Tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	for _, f := range p.Fields {
		n += len(f.Key) + 2
		if f.Value.kind == KindString {
			n += len(f.Value.str) + 2
		} else {
			n += 10
		}
	}
	return n
}

// Sink receives points. Write must not block; it may be called from
// several goroutines. It does not keep ps itself (the caller may reuse the
// slice) but may keep each point's Tags and Fields: the caller must not
// change them after Write (build new ones for every point).
type Sink interface {
	Write(ps []Point)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ps []Point)

// Write calls f.
func (f SinkFunc) Write(ps []Point) { f(ps) }
