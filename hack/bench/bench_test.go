package main

import (
	"testing"
)

func TestSizesScaleTheMeasuredCluster(t *testing.T) {
	s := sizeFor(10000)
	if s != (Size{Pods: 10000, Namespaces: 200, Nodes: 100, Policies: 270, Bindings: 1000, Events: 50000}) {
		t.Errorf("sizeFor(10000) = %+v", s)
	}
	if got := (options{nodes: 7}).size(1000); got.Nodes != 7 || got.Namespaces != 20 {
		t.Errorf("override: %+v", got)
	}
}
