package check

import (
	"reflect"
	"testing"
)

func TestGroupsKeepFirstSeenOrder(t *testing.T) {
	var g Groups[string, int]
	for i, k := range []string{"b", "a", "b", "c", "a"} {
		g.Add(k, i)
	}
	if !reflect.DeepEqual(g.Keys(), []string{"b", "a", "c"}) {
		t.Errorf("keys %v", g.Keys())
	}
	if !reflect.DeepEqual(g.Get("a"), []int{1, 4}) || g.Get("z") != nil {
		t.Errorf("a = %v, z = %v", g.Get("a"), g.Get("z"))
	}
}
