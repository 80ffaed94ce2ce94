package influx

import (
	"math"
	"strconv"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
)

// AppendLine appends p in InfluxDB line protocol (with a trailing newline)
// to b, with the timestamp in units of precision (time.Nanosecond,
// Microsecond, Millisecond or Second). Unsigned integers are written as
// signed integers ("i") when they fit, so InfluxDB 1.x accepts them, else
// as floats; NaN and infinite floats are left out (line protocol cannot
// carry them). A point left with no field is not written: AppendLine
// returns b unchanged and false.
func AppendLine(b []byte, p *exporters.Point, precision time.Duration) ([]byte, bool) {
	start := len(b)
	b = appendEscaped(b, p.Measurement, measurementEsc)
	for _, t := range p.Tags {
		if t.Key == "" || t.Value == "" { // line protocol has no empty tag values
			continue
		}
		b = append(b, ',')
		b = appendEscaped(b, t.Key, keyEsc)
		b = append(b, '=')
		b = appendEscaped(b, t.Value, keyEsc)
	}
	sep := byte(' ')
	n := 0
	for _, f := range p.Fields {
		v := f.Value
		if v.Kind() == exporters.KindFloat {
			if x := v.FloatValue(); math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
		}
		if v.Kind() == 0 || f.Key == "" {
			continue
		}
		b = append(b, sep)
		sep = ','
		n++
		b = appendEscaped(b, f.Key, keyEsc)
		b = append(b, '=')
		switch v.Kind() {
		case exporters.KindInt:
			b = strconv.AppendInt(b, v.IntValue(), 10)
			b = append(b, 'i')
		case exporters.KindUint:
			if u := v.UintValue(); u <= math.MaxInt64 {
				b = strconv.AppendUint(b, u, 10)
				b = append(b, 'i')
			} else {
				b = strconv.AppendFloat(b, float64(u), 'g', -1, 64)
			}
		case exporters.KindFloat:
			b = strconv.AppendFloat(b, v.FloatValue(), 'g', -1, 64)
		case exporters.KindBool:
			if v.BoolValue() {
				b = append(b, 't')
			} else {
				b = append(b, 'f')
			}
		case exporters.KindString:
			b = append(b, '"')
			b = appendEscaped(b, v.StringValue(), stringEsc)
			b = append(b, '"')
		}
	}
	if n == 0 {
		return b[:start], false
	}
	if !p.Time.IsZero() {
		b = append(b, ' ')
		b = strconv.AppendInt(b, timestamp(p.Time, precision), 10)
	}
	return append(b, '\n'), true
}

func timestamp(t time.Time, precision time.Duration) int64 {
	switch precision {
	case time.Second:
		return t.Unix()
	case time.Millisecond:
		return t.UnixMilli()
	case time.Microsecond:
		return t.UnixMicro()
	}
	return t.UnixNano()
}

// escape classes
const (
	measurementEsc = iota // comma, space
	keyEsc                // comma, equals sign, space (tag keys and values, field keys)
	stringEsc             // double quote, backslash
)

func appendEscaped(b []byte, s string, class int) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			// a newline ends a line in any position: never let one through
			b = append(b, ' ')
			continue
		case c == ',' || c == ' ':
			if class != stringEsc {
				b = append(b, '\\')
			}
		case c == '=':
			if class == keyEsc {
				b = append(b, '\\')
			}
		case c == '"' || c == '\\':
			if class == stringEsc {
				b = append(b, '\\')
			}
		}
		b = append(b, c)
	}
	return b
}
