//go:build e2e

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// deploy/rbac.yaml is enough: a user in its group gets the administrator's report, finding for
// finding, and nothing is "forbidden" but what the optional roles would allow.
func TestDeployRBACIsEnoughForTheFullReport(t *testing.T) {
	manifests, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := testcluster.Apply(context.Background(), cluster.Config, manifests); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cluster.UserKubeconfig("least-privileged", "alertmend:readers")
	if err != nil {
		t.Fatal(err)
	}
	asReader := func(args ...string) result {
		return run(t, testEnv{}, append(args, "--kubeconfig", kubeconfig)...)
	}
	// --explain-permissions agrees before anything is read: refused are only the optional
	// roles' every ConfigMap (the incidents' timelines, which no check needs) and node proxy,
	// which may blind dns-forward-loop-risk (OpenShift's DNS namespace does not exist here, so
	// its ConfigMaps are not asked for).
	explained := asReader("diagnose", "--explain-permissions", "-o", "json")
	if pr := explained.permissions(t); !slices.Equal(refused(pr), []string{"list configmaps in ", "get nodes/proxy in "}) ||
		len(pr.NotEvaluated) != 0 || !slices.Equal(pr.Degraded, []string{"dns-forward-loop-risk"}) {
		t.Errorf("--explain-permissions as the reader: refused %q, not evaluated %q, degraded %q", refused(pr), pr.NotEvaluated, pr.Degraded)
	}
	for _, command := range [][]string{{"diagnose"}, {"rbac-audit"}} {
		theirs := admin(t, append(command, "-o", "json")...)
		ours := asReader(append(command, "-o", "json")...)
		if ours.code != theirs.code {
			t.Errorf("%s: exit %d as the reader, %d as the administrator", command[0], ours.code, theirs.code)
		}
		want, got := theirs.report(t), ours.report(t)
		if !slices.Equal(findingKeys(got), findingKeys(want)) {
			t.Errorf("%s: the reader sees %q\nthe administrator %q", command[0], findingKeys(got), findingKeys(want))
		}
		if !slices.Equal(notEvaluatedChecks(got), notEvaluatedChecks(want)) {
			t.Errorf("%s: not evaluated for the reader %v, for the administrator %v", command[0], notEvaluatedChecks(got), notEvaluatedChecks(want))
		}
		for _, ne := range got.NotEvaluated {
			forbidden := strings.Contains(ne.Reason, "forbidden")
			if forbidden && !(ne.Check == "dns-forward-loop-risk" && strings.Contains(ne.Reason, `resource "nodes/proxy"`)) {
				t.Errorf("%s: %s is forbidden to the reader: %s", command[0], ne.Check, ne.Reason)
			}
		}
	}
}

func notEvaluatedChecks(r *report.Report) []string {
	var ids []string
	for _, ne := range r.NotEvaluated {
		ids = append(ids, ne.Check)
	}
	return ids
}
