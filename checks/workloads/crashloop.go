package workloads

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// CrashLoop finds containers in CrashLoopBackOff.
type CrashLoop struct{}

func (CrashLoop) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-crashloop",
		Title:    "Containers are crash looping",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: podKinds(),
		// Deployments and their ReplicaSets tell when the rollout is what fails (exactRollback).
		Optional: append(ownerKinds(), snapshot.KindDeployments),
		LiveOnly: true,
		Description: "Looks for containers waiting in CrashLoopBackOff: they start, exit, and are restarted with a growing delay. " +
			"Reports them per workload with the restart count and how the last run ended, quoting the newest failing liveness or " +
			"startup probe (with its output), else the kubelet's back-off.",
		Why: "A crash-looping container serves nothing; once every replica loops, the service is down. " +
			"It becomes critical when no pod of the workload is left running.",
		Remediation: "Read the previous run's logs to find why the process exits. Exit code 137 with reason OOMKilled means the " +
			"memory limit is too low; exit code 1 or 2 usually means bad configuration or a missing dependency; a failing " +
			"liveness probe shows in the pod's events.",
		References: []string{
			"https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts",
			"https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/",
		},
		// An OOMKilled container is how a crash loop often begins: its finding (with the limit to
		// raise) belongs under the loop's.
		Absorbs: []string{"container-oomkilled"},
		Links:   []check.Link{PodFailureLink()},
	}
}

func (c CrashLoop) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	groups := byOwner(s, waitingContainers(s, "CrashLoopBackOff"))
	for _, owner := range groups.Keys() {
		problems := groups.Get(owner)
		pods := distinctPods(problems)
		total := s.PodCount(owner)
		f := check.New(meta, fmt.Sprintf("%s of %s %s crash looping (container %s)",
			check.Plural(len(pods), "pod", "pods"), owner.Describe(), check.PluralForm(len(pods), "is", "are"), strings.Join(distinctContainers(problems), ", ")), owner)
		f.Incident = true
		if isController(owner) && len(pods) == total {
			f.Severity = check.Critical
			f.Message += ": no replica is running"
		}
		var evidence []string
		oom := false
		var since []time.Time
		for _, p := range problems {
			line := fmt.Sprintf("pod %s container %s: restarted %s", p.pod.Name, p.container, check.Plural(int(p.status.RestartCount), "time", "times"))
			if t := p.status.LastTerminationState.Terminated; t != nil {
				line += fmt.Sprintf(", last exit code %d", t.ExitCode)
				if t.Reason != "" {
					line += " (" + t.Reason + ")"
				}
				if !t.FinishedAt.IsZero() {
					line += " " + check.Ago(t.FinishedAt.Time, s.CollectedAt)
				}
				oom = oom || t.Reason == "OOMKilled"
			}
			if t := snapshot.NotReadySince(p.pod); !t.IsZero() {
				line += "; not ready " + check.For(t, s.CollectedAt)
			}
			since = append(since, failingSince(p))
			evidence = append(evidence, line)
		}
		// A failing liveness or startup probe is why a running container is restarted; else the
		// kubelet's back-off says how often.
		f.Evidence = withEvent(check.LimitEvidence(evidence), eventEvidence(s, podObjects(pods), probeKilled, reasons("BackOff")))
		f.Since = check.Earliest(since...)
		f.Fix = append(perContainer(problems, func(p containerProblem) string {
			return fmt.Sprintf("kubectl logs -n %s %s -c %s --previous", check.Quote(p.pod.Namespace), check.Quote(p.pod.Name), check.Quote(p.container))
		}), describePods(pods)...)
		if undo, ok := exactRollback(s, owner, pods); ok {
			f.Fix = append(f.Fix, undo)
		}
		if oom {
			// container-oomkilled proposes the new limit, from usage where it is measured.
			f.Message += "; the last run was OOMKilled (see container-oomkilled for the limit to set)"
		}
		findings = append(findings, f)
	}
	return findings
}

// probeKilled matches the kubelet's reports of the probes that restart a container.
func probeKilled(e *corev1.Event) bool {
	return e.Reason == "Unhealthy" && (strings.HasPrefix(e.Message, "Liveness probe failed") || strings.HasPrefix(e.Message, "Startup probe failed"))
}
