//go:build e2e

package testcluster

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The stage file kwok reads is YAML of Stage objects with every placeholder filled in: a stage
// kwok cannot parse would stop it, and an unfilled one would match nothing.
func TestKwokStagesAreFilledIn(t *testing.T) {
	stages := kwokStages()
	for _, placeholder := range []string{"'FAULT'", "KUBERNETES_VERSION"} {
		if strings.Contains(stages, placeholder) {
			t.Errorf("the stages still hold %s", placeholder)
		}
	}
	var names []string
	faultSelectors := 0
	for _, doc := range strings.Split(stages, "\n---\n") {
		var stage struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Selector struct {
					MatchExpressions []struct {
						Key    string   `json:"key"`
						Values []string `json:"values"`
					} `json:"matchExpressions"`
				} `json:"selector"`
				Next map[string]any `json:"next"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &stage); err != nil {
			t.Fatalf("a stage does not parse: %v\n%s", err, doc)
		}
		if stage.Kind != "Stage" || stage.Metadata.Name == "" || len(stage.Spec.Next) == 0 {
			t.Errorf("not a complete Stage: %+v", stage)
		}
		names = append(names, stage.Metadata.Name)
		for _, e := range stage.Spec.Selector.MatchExpressions {
			if e.Key == faultQuery {
				faultSelectors++
			}
		}
	}
	if !slices.Contains(names, "testcluster-pod-run") || !slices.Contains(names, "testcluster-node-ready") {
		t.Errorf("stages %v lack the pod and node basics", names)
	}
	// Running, a Job's completion, an image pull error and a crash each ask for a pod's fault.
	if faultSelectors != 4 {
		t.Errorf("%d selectors read a pod's fault, want 4", faultSelectors)
	}
}

// Asking for one Kubernetes program builds all four in one go build; any other tool is built
// alone.
func TestUnitsGroupTheKubernetesPrograms(t *testing.T) {
	byName := func(names ...string) []tool {
		var tools []tool
		for _, name := range names {
			i := slices.IndexFunc(catalog(), func(t tool) bool { return t.name == name })
			tools = append(tools, catalog()[i])
		}
		return tools
	}
	units := unitsOf(byName("etcd", "kube-scheduler", "kube-apiserver", "kwok"))
	var got []string
	for _, u := range units {
		got = append(got, u.name+"="+strings.Join(u.names(), ","))
	}
	want := []string{"etcd=etcd", "kubernetes=kube-apiserver,kubectl,kube-controller-manager,kube-scheduler", "kwok=kwok"}
	if !slices.Equal(got, want) {
		t.Errorf("units %v, want %v", got, want)
	}
	for _, tl := range units[1].tools {
		if tl.dir != units[1].tools[0].dir || tl.ldflags != units[1].tools[0].ldflags {
			t.Errorf("%s is built with other flags than the rest of its group", tl.name)
		}
	}
}
