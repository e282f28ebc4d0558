// Package apiserver audits the API server as an attacker and the CIS Benchmark see it: the flags
// of its static pods, what it answers a caller without credentials, what RBAC grants anonymous
// callers, and whether its version and its kubelets' are still supported.
package apiserver

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Flags are a command line's flags: every occurrence, in order, as kube-apiserver's flag parser
// would collect them.
type Flags struct {
	values map[string][]string
}

// ParseFlags reads `--flag=value`, `--flag value` and bare boolean `--flag`, from a command and
// its args. A shell wrapper (`sh -c "kube-apiserver --a=b ..."`) is split into words.
func ParseFlags(tokens []string) Flags {
	var words []string
	for _, t := range tokens {
		if strings.Contains(t, " --") {
			words = append(words, strings.Fields(t)...)
		} else {
			words = append(words, t)
		}
	}
	f := Flags{values: map[string][]string{}}
	bools := boolFlags()
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
			continue
		}
		name := strings.TrimLeft(w, "-")
		value := "true"
		if n, v, ok := strings.Cut(name, "="); ok {
			name, value = n, v
		} else if !bools[name] && i+1 < len(words) {
			// As kube-apiserver's flag parser does: a non-boolean flag takes the next word,
			// whatever it looks like ("--audit-log-path -" logs to stdout); a boolean one never.
			value = words[i+1]
			i++
		}
		f.values[name] = append(f.values[name], strings.Trim(value, `"'`))
	}
	return f
}

// boolFlags are kube-apiserver's boolean flags among those the checks read or that commonly
// stand bare on a command line.
func boolFlags() map[string]bool {
	set := map[string]bool{}
	for _, n := range []string{
		"anonymous-auth", "profiling", "contention-profiling", "service-account-lookup",
		"service-account-extend-token-expiration", "allow-privileged", "enable-aggregator-routing",
		"enable-bootstrap-token-auth", "enable-garbage-collector", "enable-priority-and-fairness",
		"enable-logs-handler", "audit-log-compress", "v", "logtostderr", "help",
	} {
		set[n] = true
	}
	return set
}

// Get returns the flag's value; when it is repeated, the last one wins, as for scalar flags.
func (f Flags) Get(name string) (string, bool) {
	v := f.values[name]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// List returns every comma-separated item of every occurrence of a list flag.
func (f Flags) List(name string) []string {
	var out []string
	for _, v := range f.values[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// Has reports whether a list flag contains item.
func (f Flags) Has(name, item string) bool { return slices.Contains(f.List(name), item) }

// Bool reads a boolean flag, with its default when unset.
func (f Flags) Bool(name string, def bool) bool {
	v, ok := f.Get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def // kube-apiserver would refuse to start; judge it as the default
	}
	return b
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
