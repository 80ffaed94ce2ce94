package topology

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// ReadSnapshot decodes a snapshot written by WriteSnapshot (or the API's
// GET /api/v1/topology), rejecting unknown fields so a wrong file is
// reported instead of silently read as empty.
func ReadSnapshot(r io.Reader) (Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("topology snapshot: %w", err)
	}
	if s.Switches == nil && s.Ports == nil && s.Links == nil && s.Hosts == nil {
		return s, fmt.Errorf("topology snapshot: no switches, ports, links or hosts: is this a snapshot file?")
	}
	s.sort()
	return s, nil
}

// WriteSnapshot encodes a snapshot as indented JSON.
func WriteSnapshot(w io.Writer, s Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Change is one object that differs between two snapshots.
type Change[T any] struct {
	Before T `json:"before"`
	After  T `json:"after"`
}

// Section lists what appeared, disappeared and changed for one object type.
type Section[T any] struct {
	Added   []T         `json:"added"`
	Removed []T         `json:"removed"`
	Changed []Change[T] `json:"changed"`
}

// Empty reports whether nothing differs.
func (s Section[T]) Empty() bool { return len(s.Added)+len(s.Removed)+len(s.Changed) == 0 }

// Diff is the difference between two snapshots. Volatile fields
// (timestamps, latency) do not count as changes.
type Diff struct {
	FromVersion uint64          `json:"from_version"`
	ToVersion   uint64          `json:"to_version"`
	Switches    Section[Switch] `json:"switches"`
	Ports       Section[Port]   `json:"ports"`
	Links       Section[Link]   `json:"links"`
	Hosts       Section[Host]   `json:"hosts"`
}

// Empty reports whether the snapshots describe the same network.
func (d Diff) Empty() bool {
	return d.Switches.Empty() && d.Ports.Empty() && d.Links.Empty() && d.Hosts.Empty()
}

// Compare returns what changed from a to b.
func Compare(a, b Snapshot) Diff {
	return Diff{
		FromVersion: a.Version, ToVersion: b.Version,
		Switches: diffBy(a.Switches, b.Switches, func(s Switch) DPID { return s.DPID },
			func(x, y Switch) bool {
				return x.Connected == y.Connected && x.Software == y.Software && x.Manufacturer == y.Manufacturer
			}),
		Ports: diffBy(a.Ports, b.Ports, Port.Key, func(x, y Port) bool { return x == y }),
		Links: diffBy(a.Links, b.Links, Link.Key, func(x, y Link) bool {
			return x.Kind == y.Kind && x.State == y.State && x.Unidirectional == y.Unidirectional
		}),
		Hosts: diffBy(a.Hosts, b.Hosts, func(h Host) string { return h.MAC }, func(x, y Host) bool {
			return x.DPID == y.DPID && x.Port == y.Port && slices.Equal(x.IPs, y.IPs)
		}),
	}
}

func diffBy[T any, K comparable](a, b []T, key func(T) K, same func(T, T) bool) Section[T] {
	sec := Section[T]{Added: []T{}, Removed: []T{}, Changed: []Change[T]{}}
	before := make(map[K]T, len(a))
	for _, x := range a {
		before[key(x)] = x
	}
	seen := make(map[K]bool, len(b))
	for _, y := range b {
		k := key(y)
		seen[k] = true
		x, ok := before[k]
		switch {
		case !ok:
			sec.Added = append(sec.Added, y)
		case !same(x, y):
			sec.Changed = append(sec.Changed, Change[T]{Before: x, After: y})
		}
	}
	for _, x := range a {
		if !seen[key(x)] {
			sec.Removed = append(sec.Removed, x)
		}
	}
	return sec
}
