package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a time parameter: RFC 3339, Unix seconds, "now", or a
// negative duration relative to now ("-15m").
func ParseTime(q url.Values, name string, now time.Time) (time.Time, bool, error) {
	if !q.Has(name) {
		return time.Time{}, false, nil
	}
	v := q.Get(name)
	if v == "now" {
		return now, true, nil
	}
	if strings.HasPrefix(v, "-") {
		if d, err := time.ParseDuration(v); err == nil {
			return now.Add(d), true, nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e11 {
		return time.Unix(0, int64(f*1e9)), true, nil
	}
	return time.Time{}, false, Errorf(http.StatusBadRequest, name, "%s %q: want RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, now, or a time relative to now such as -15m", name, v)
}

// OneOf reports whether s is in list.
func OneOf(s string, list []string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// UintParam parses an optional unsigned query parameter no larger than max.
func UintParam(q url.Values, name string, max uint64, want string) (uint64, bool, error) {
	if !q.Has(name) {
		return 0, false, nil
	}
	v := q.Get(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > max {
		return 0, false, Errorf(http.StatusBadRequest, name, "%s %q: want %s", name, v, want)
	}
	return n, true, nil
}

// ParseSince reads an RFC 3339 time or a duration back from now.
func ParseSince(field, v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, Errorf(http.StatusBadRequest, field, "%s=%s: want a positive duration back from now (such as 1h) or an RFC 3339 time", field, v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, Errorf(http.StatusBadRequest, field, "%s=%q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (such as 1h or 30m)", field, v)
	}
	return t, nil
}
