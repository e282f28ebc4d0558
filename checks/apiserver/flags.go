// Package apiserver audits the API server as an attacker and the CIS Benchmark see it: the flags
// of its static pods, what it answers a caller without credentials, what RBAC grants anonymous
// callers, and whether its version and its kubelets' are still supported.
package apiserver

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/cmdline"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Flags are kube-apiserver's flags, read the way it reads them.
type Flags = cmdline.Flags

// ParseFlags reads kube-apiserver's command line.
func ParseFlags(tokens []string) Flags { return cmdline.Parse(tokens, boolFlags()...) }

// boolFlags are kube-apiserver's boolean flags among those the checks read or that commonly
// stand bare on a command line.
func boolFlags() []string {
	return []string{
		"anonymous-auth", "profiling", "contention-profiling", "service-account-lookup",
		"service-account-extend-token-expiration", "allow-privileged", "enable-aggregator-routing",
		"enable-bootstrap-token-auth", "enable-garbage-collector", "enable-priority-and-fairness",
		"enable-logs-handler", "audit-log-compress", "v", "logtostderr", "help",
	}
}

// serverPod is one kube-apiserver pod and its parsed flags.
type serverPod struct {
	ref   snapshot.Ref
	flags Flags
}

// serverPods finds the API server's static (mirror) pods in kube-system: label
// component=kube-apiserver, as kubeadm, kind, minikube and rke2 set it, or a name
// kube-apiserver-<node>.
func serverPods(s *snapshot.Snapshot) []serverPod {
	var out []serverPod
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Namespace != "kube-system" {
			continue
		}
		if pod.Labels["component"] != "kube-apiserver" && !strings.HasPrefix(pod.Name, "kube-apiserver-") {
			continue
		}
		c := serverContainer(pod)
		if c == nil {
			continue
		}
		out = append(out, serverPod{
			ref:   snapshot.RefTo(snapshot.KindPods, pod.Namespace, pod.Name),
			flags: ParseFlags(append(append([]string{}, c.Command...), c.Args...)),
		})
	}
	return out
}

// serverContainer is the container that runs kube-apiserver: named so, or whose image, command
// or args name it. A pod merely named kube-apiserver-* (a local load balancer, say) has none.
func serverContainer(pod *corev1.Pod) *corev1.Container {
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		line := strings.Join(append(append([]string{c.Name, c.Image}, c.Command...), c.Args...), " ")
		if strings.Contains(line, "kube-apiserver") {
			return c
		}
	}
	return nil
}

// notVisible is the reason the flag checks give on clusters whose control plane runs elsewhere.
// Manifests are judged when they contain the API server's static pod, and otherwise simply hold
// nothing for these checks.
func notVisible(s *snapshot.Snapshot, pods []serverPod) string {
	if s.Source == snapshot.SourceManifests || len(pods) > 0 {
		return ""
	}
	return "control plane not visible: no kube-apiserver pod in kube-system (a managed cluster such as EKS, GKE or AKS, " +
		"or a distribution that runs the API server outside pods, such as k3s); the checks from outside still run"
}
