package cluster

import "testing"

// The preferred instance spreads switches evenly and moves only the
// switches of an instance that goes.
func TestPreferred(t *testing.T) {
	names := []string{"sat1", "sat2", "sat3"}
	count := map[string]int{}
	before := map[uint64]string{}
	for d := uint64(1); d <= 3000; d++ {
		p := Preferred(d, names)
		count[p]++
		before[d] = p
	}
	for _, n := range names {
		if count[n] < 850 || count[n] > 1150 {
			t.Errorf("%s is preferred for %d of 3000 switches; want about 1000: %v", n, count[n], count)
		}
	}
	moved := 0
	for d := uint64(1); d <= 3000; d++ {
		p := Preferred(d, []string{"sat1", "sat3"})
		if p != before[d] {
			moved++
			if before[d] != "sat2" {
				t.Fatalf("dpid %d moved from %s to %s when sat2 went", d, before[d], p)
			}
		}
	}
	if moved != count["sat2"] {
		t.Fatalf("%d switches moved, want sat2's %d", moved, count["sat2"])
	}
	if Preferred(7, nil) != "" || Preferred(7, []string{"x"}) != "x" {
		t.Fatal("no candidate or one")
	}
	if a, b := Preferred(42, []string{"a", "b", "c"}), Preferred(42, []string{"c", "b", "a"}); a != b {
		t.Fatalf("order matters: %s vs %s", a, b)
	}
}
