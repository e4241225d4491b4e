package shard

import (
	"fmt"
	"testing"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("GitRepository/ns-%d/repo-%d", i%7, i)
	}
	return out
}

// TestOwnerBalance: three members own about a third of the keys each.
func TestOwnerBalance(t *testing.T) {
	v := NewView("weir-0-a1b2", "weir-1-c3d4", "weir-2-e5f6")
	count := map[string]int{}
	ks := keys(3000)
	for _, k := range ks {
		count[v.Owner(k)]++
	}
	for _, m := range v {
		if share := float64(count[m]) / float64(len(ks)); share < 0.28 || share > 0.39 {
			t.Errorf("%s owns %.2f of the keys, want about 1/3", m, share)
		}
	}
}

// TestOwnerMovesFewKeys: a member leaving moves its keys only; a member joining takes about
// 1/N of the keys, from everyone, and nothing else moves.
func TestOwnerMovesFewKeys(t *testing.T) {
	ks := keys(3000)
	three := NewView("a", "b", "c")
	two := NewView("a", "b")
	four := NewView("a", "b", "c", "d")
	moved := 0
	for _, k := range ks {
		before, after := three.Owner(k), two.Owner(k)
		if before != after {
			moved++
			if before != "c" {
				t.Fatalf("%s moved from %s to %s when c left", k, before, after)
			}
		}
	}
	if share := float64(moved) / float64(len(ks)); share < 0.28 || share > 0.39 {
		t.Errorf("c leaving moved %.2f of the keys, want about 1/3", share)
	}
	moved = 0
	for _, k := range ks {
		before, after := three.Owner(k), four.Owner(k)
		if before != after {
			moved++
			if after != "d" {
				t.Fatalf("%s moved from %s to %s when d joined", k, before, after)
			}
		}
	}
	if share := float64(moved) / float64(len(ks)); share < 0.20 || share > 0.30 {
		t.Errorf("d joining moved %.2f of the keys, want about 1/4", share)
	}
}

func TestViewID(t *testing.T) {
	if NewView("b", "a", "a").ID() != NewView("a", "b").ID() {
		t.Error("the ID depends on the order or duplicates of the members")
	}
	if NewView("a", "b").ID() == NewView("a", "b", "c").ID() {
		t.Error("two memberships share an ID")
	}
	if NewView().ID() != "" || NewView().Owner("k") != "" {
		t.Error("the empty view has an ID or an owner")
	}
}
