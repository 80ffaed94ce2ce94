package audit

import (
	"fmt"
	"sort"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// A flow f is shadowed when one flow g of the same table with a higher
// priority matches every packet f matches: every field g matches on, f
// matches on too, with a mask at least as wide, and the same bits under
// g's mask. (A cover made of several flows together is not looked for.)
//
// Flows are grouped by the set of fields they match on. For each flow,
// only the groups whose field set is a subset of its own can cover it;
// within a group, flows matching every field exactly are found by one
// map lookup of the flow's values, the masked ones by a scan.

type sfield struct {
	id   uint32
	val  []byte
	mask []byte // nil: exact
}

type sflow struct {
	fs     *ofwire.FlowStats
	fields []sfield // by id
	exact  bool     // every field exact
}

type sgroup struct {
	ids    []uint32
	exact  map[string]*sflow // values -> the highest-priority exact flow
	masked []*sflow          // highest priority first
}

func toSflow(fs *ofwire.FlowStats) *sflow {
	f := &sflow{fs: fs, fields: make([]sfield, 0, len(fs.Match)), exact: true}
	for _, xm := range fs.Match {
		m := xm.Mask
		if allOnes(m) {
			m = nil
		}
		if m != nil {
			f.exact = false
		}
		f.fields = append(f.fields, sfield{id: fieldID(xm), val: xm.Value, mask: m})
	}
	sort.Slice(f.fields, func(i, j int) bool { return f.fields[i].id < f.fields[j].id })
	return f
}

func allOnes(b []byte) bool {
	for _, x := range b {
		if x != 0xff {
			return false
		}
	}
	return true
}

func sigOf(fields []sfield) string {
	b := make([]byte, 0, 4*len(fields))
	for _, f := range fields {
		b = append(b, byte(f.id>>24), byte(f.id>>16), byte(f.id>>8), byte(f.id))
	}
	return string(b)
}

// field returns f's field id, if it has it.
func (f *sflow) field(id uint32) (sfield, bool) {
	for _, x := range f.fields {
		if x.id == id {
			return x, true
		}
		if x.id > id {
			break
		}
	}
	return sfield{}, false
}

// covers reports whether g matches every packet f matches.
func covers(g, f *sflow) bool {
	for _, gf := range g.fields {
		ff, ok := f.field(gf.id)
		if !ok || len(ff.val) != len(gf.val) {
			return false
		}
		for i := range gf.val {
			gm, fm := byte(0xff), byte(0xff)
			if gf.mask != nil && i < len(gf.mask) {
				gm = gf.mask[i]
			}
			if ff.mask != nil && i < len(ff.mask) {
				fm = ff.mask[i]
			}
			if gm&^fm != 0 || (ff.val[i]^gf.val[i])&gm != 0 {
				return false
			}
		}
	}
	return true
}

func subset(a, b []uint32) bool { // a ⊆ b, both sorted
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}

// FindShadowed returns the flows of flows that can never match, each with
// the flow that covers it (By). Owner, DPID and Switch are left to fill.
func FindShadowed(flows []ofwire.FlowStats) []Entry {
	byTable := map[uint8][]*sflow{}
	for i := range flows {
		byTable[flows[i].Table] = append(byTable[flows[i].Table], toSflow(&flows[i]))
	}
	var out []Entry
	for _, fl := range byTable {
		if len(fl) < 2 {
			continue
		}
		sort.SliceStable(fl, func(i, j int) bool { return fl[i].fs.Priority > fl[j].fs.Priority })
		groups := map[string]*sgroup{}
		var order []*sgroup
		for _, f := range fl {
			sig := sigOf(f.fields)
			g := groups[sig]
			if g == nil {
				g = &sgroup{exact: map[string]*sflow{}}
				for _, x := range f.fields {
					g.ids = append(g.ids, x.id)
				}
				groups[sig] = g
				order = append(order, g)
			}
			if f.exact {
				k := valuesKey(f, g.ids)
				if _, ok := g.exact[k]; !ok { // the first is the highest priority
					g.exact[k] = f
				}
			} else {
				g.masked = append(g.masked, f)
			}
		}
		ids := make([]uint32, 0, 16)
		for _, f := range fl {
			ids = ids[:0]
			for _, x := range f.fields {
				ids = append(ids, x.id)
			}
			var by *sflow
			for _, g := range order {
				if !subset(g.ids, ids) {
					continue
				}
				if exactOn(f, g.ids) {
					if c, ok := g.exact[valuesKey(f, g.ids)]; ok && c.fs.Priority > f.fs.Priority && (by == nil || c.fs.Priority > by.fs.Priority) {
						by = c
					}
				}
				for _, c := range g.masked {
					if c.fs.Priority <= f.fs.Priority {
						break
					}
					if (by == nil || c.fs.Priority > by.fs.Priority) && covers(c, f) {
						by = c
						break
					}
				}
			}
			if by == nil {
				continue
			}
			e := flowEntry(Shadowed, f.fs, FlowKey(f.fs.Table, f.fs.Priority, f.fs.Match))
			e.By = fmt.Sprintf("priority=%d,%s (%s)", by.fs.Priority, orAll(controller.FormatMatch(by.fs.Match)), controller.Cookie(by.fs.Cookie))
			e.Detail = "can never match: flow " + e.By + " covers its whole match at a higher priority"
			out = append(out, e)
		}
	}
	sortEntries(out)
	return out
}

func orAll(m string) string {
	if m == "" {
		return "any"
	}
	return m
}

// exactOn: f matches every field of ids exactly.
func exactOn(f *sflow, ids []uint32) bool {
	for _, id := range ids {
		x, ok := f.field(id)
		if !ok || x.mask != nil {
			return false
		}
	}
	return true
}

func valuesKey(f *sflow, ids []uint32) string {
	var b []byte
	for _, id := range ids {
		x, _ := f.field(id)
		b = append(b, byte(len(x.val)))
		b = append(b, x.val...)
	}
	return string(b)
}
