//go:build e2e

package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// TestSnapshotReplaysTheLiveDiagnosis records the scenario cluster and replays the file: the
// findings and the not-evaluated checks are the live run's, and the file holds no more than
// the checks need.
func TestSnapshotReplaysTheLiveDiagnosis(t *testing.T) {
	file := filepath.Join(t.TempDir(), "incident.alertmend.gz")
	rec := admin(t, "snapshot", "-o", file)
	if rec.code != 0 || !strings.Contains(rec.stderr, "recorded ") || rec.stdout != "" {
		t.Fatalf("snapshot: exit %d, stdout %q, stderr %s", rec.code, rec.stdout, rec.stderr)
	}
	if !strings.Contains(rec.stderr, "ConfigMap data kept: kube-system/coredns key Corefile, kube-system/kube-proxy key config.conf") {
		t.Errorf("the kept ConfigMap data is not named: %s", rec.stderr)
	}

	live := admin(t, "diagnose", "-o", "json", "--fail-on", "none")
	replayed := run(t, testEnv{}, "diagnose", "--snapshot", file, "-o", "json", "--fail-on", "none")
	if live.code != replayed.code {
		t.Errorf("exit %d live, %d replayed: %s", live.code, replayed.code, replayed.stderr)
	}
	liveReport, replayReport := live.report(t), replayed.report(t)
	if replayReport.Metadata.Source != "snapshot" || replayReport.Metadata.CollectedAt == nil || replayReport.Metadata.Context != liveReport.Metadata.Context {
		t.Errorf("replay metadata %+v", replayReport.Metadata)
	}
	asJSON := func(v any) string { out, _ := json.MarshalIndent(v, "", " "); return string(out) }
	if a, b := asJSON(liveReport.Findings), asJSON(replayReport.Findings); a != b {
		t.Errorf("replayed findings differ from the live ones:\nlive:   %v\nreplay: %v", findingKeys(liveReport), findingKeys(replayReport))
	}
	if a, b := asJSON(liveReport.NotEvaluated), asJSON(replayReport.NotEvaluated); a != b {
		t.Errorf("not evaluated differ:\nlive:   %s\nreplay: %s", a, b)
	}
	if liveReport.Summary != replayReport.Summary {
		t.Errorf("summary live %+v, replayed %+v", liveReport.Summary, replayReport.Summary)
	}

	t.Run("the file holds only what the checks read", func(t *testing.T) {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		snap, meta, err := snapshot.ReadFile(file, f)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(meta.Kinds, snapshot.Kind("secrets")) || len(meta.Kinds) < 20 {
			t.Errorf("recorded kinds %v", meta.Kinds)
		}
		for _, cm := range snap.ConfigMaps {
			for key := range cm.Data {
				if !(cm.Name == "coredns" && key == "Corefile") && !(cm.Name == "kube-proxy" && key == "config.conf") {
					t.Errorf("configmap %s/%s key %s was recorded", cm.Namespace, cm.Name, key)
				}
			}
			if _, ok := cm.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
				t.Errorf("configmap %s/%s kept its last-applied copy", cm.Namespace, cm.Name)
			}
		}
		envValues := 0
		for _, pod := range snap.Pods {
			for _, c := range pod.Spec.Containers {
				for _, e := range c.Env {
					if e.Value != "" {
						envValues++
					}
				}
			}
		}
		if envValues != 0 {
			t.Errorf("%d environment values were recorded", envValues)
		}
	})
	t.Run("a damaged or foreign file is a clear error", func(t *testing.T) {
		dir := t.TempDir()
		notGzip := filepath.Join(dir, "report.json")
		os.WriteFile(notGzip, []byte(`{"kind":"Report"}`), 0o644)
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "--snapshot", notGzip), "not a snapshot written by `kubectl alertmend snapshot`")
		data, _ := os.ReadFile(file)
		truncated := filepath.Join(dir, "truncated.gz")
		os.WriteFile(truncated, data[:len(data)/2], 0o644)
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "--snapshot", truncated), "damaged or truncated")
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "--snapshot", filepath.Join(dir, "absent.gz")), "no such file or directory")
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "--snapshot", file, "-f", "-"), "does not combine with -f")
		assertCleanFailure(t, run(t, testEnv{}, "snapshot"), "-o FILE is required")
	})
}
