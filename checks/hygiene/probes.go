package hygiene

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// ReadinessMissing finds containers that serve a Service but have no readiness probe.
type ReadinessMissing struct{}

func (ReadinessMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "readiness-probe-missing",
		Title:    "Containers behind a Service have no readiness probe",
		Category: check.CategoryReliability,
		Severity: check.Medium,
		Requires: workloadKinds(snapshot.KindServices),
		Optional: optionalKinds(),
		Description: "For every workload whose pods a Service selects, looks at the containers that serve the Service's " +
			"target ports (those that declare the port, by number or name; every container when none declares it) " +
			"and reports those without a readinessProbe. A pod where some container has a readiness probe and no " +
			"container declares the port is left alone, as are Services that publish not-ready addresses (their " +
			"traffic does not wait for readiness by design) and workloads no Service selects: readiness then gates " +
			"nothing but rollouts.",
		Why: "Without a readiness probe a container counts as ready the moment its process starts: the Service sends it " +
			"requests while it is still loading, migrating or warming caches, and every rollout, restart or reschedule " +
			"answers some requests with connection refused or errors. The probe is also what takes a pod out of the " +
			"Service when it cannot answer, without restarting it.",
		Remediation: "Add a readinessProbe that answers only when the container can serve: an HTTP endpoint of the " +
			"application's readiness where it has one, else a TCP check of the port it serves. The patch adds a TCP " +
			"check of the served port.",
		References: []string{referenceProbes + "#define-readiness-probes"},
	}
}

func (c ReadinessMissing) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, w := range s.Workloads() {
		services := slices.DeleteFunc(servicesOf(s, w), func(svc *corev1.Service) bool { return svc.Spec.PublishNotReadyAddresses })
		if len(services) == 0 {
			continue
		}
		missing, evidence := unprobed(w, services)
		if len(missing) == 0 {
			continue
		}
		var names []string
		var patch []any
		for _, m := range missing {
			names = append(names, m.c.Name)
			patch = append(patch, map[string]any{"name": m.c.Name, "readinessProbe": suggestedReadiness(m)})
		}
		var svcNames []string
		for _, svc := range services {
			svcNames = append(svcNames, svc.Name)
		}
		f := check.New(meta, fmt.Sprintf("%s is behind %s %s, but %s %s %s no readiness probe: its pods get traffic as soon as "+
			"the %s, before %s can serve", w.Ref.Describe(), check.PluralForm(len(services), "Service", "Services"),
			strings.Join(svcNames, ", "), check.PluralForm(len(missing), "container", "containers"), strings.Join(names, ", "),
			check.PluralForm(len(missing), "has", "have"), check.PluralForm(len(missing), "container starts", "containers start"),
			check.PluralForm(len(missing), "it", "they")), w.Ref)
		f.Evidence = check.LimitEvidence(evidence)
		note := "a TCP check of the served port; an HTTP check of the application's readiness endpoint is better where it has one"
		if slices.ContainsFunc(missing, func(m unprobedContainer) bool { return m.c.LivenessProbe != nil && m.c.LivenessProbe.TCPSocket != nil }) {
			note = "READINESS_PATH: the application's readiness endpoint (liveness already checks the port by TCP)"
		}
		f.Fix = []string{check.TemplatePatch(w, map[string]any{"spec": map[string]any{"containers": patch}}, note)}
		findings = append(findings, f)
	}
	return findings
}

// unprobed is a served container without a readiness probe, and the port the Service reaches.
type unprobedContainer struct {
	c    *corev1.Container
	port intstr.IntOrString
}

// unprobed lists the containers that serve services without a readiness probe, and the evidence:
// which Service port reaches which container.
func unprobed(w snapshot.Workload, services []*corev1.Service) ([]unprobedContainer, []string) {
	var serving []container
	for _, c := range containersOf(w.Spec, specPath(w.Ref)) {
		if c.serving() {
			serving = append(serving, c)
		}
	}
	var out []unprobedContainer
	var evidence []string
	seen := map[string]bool{}
	declared, haveTarget := false, false
	var firstTarget intstr.IntOrString
	for _, svc := range services {
		for _, sp := range svc.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port) // the API server defaults targetPort to port
			}
			if !haveTarget {
				firstTarget, haveTarget = target, true
			}
			for _, c := range serving {
				p, ok := declares(c.c, target, sp.Protocol)
				if !ok {
					continue
				}
				declared = true
				if c.c.ReadinessProbe != nil || seen[c.c.Name] {
					continue
				}
				seen[c.c.Name] = true
				out = append(out, unprobedContainer{c.c, intstr.FromInt32(p)})
				evidence = append(evidence, fmt.Sprintf("service %s port %d reaches container %s port %d, which has no readinessProbe",
					svc.Name, sp.Port, c.c.Name, p))
			}
		}
	}
	if declared {
		return out, evidence
	}
	// No container declares the port (declarations are informational): the pod serves through
	// whichever container listens, so one readiness probe among them is taken as enough.
	if slices.ContainsFunc(serving, func(c container) bool { return c.c.ReadinessProbe != nil }) {
		return nil, nil
	}
	for _, c := range serving {
		out = append(out, unprobedContainer{c.c, firstTarget})
		evidence = append(evidence, fmt.Sprintf("container %s has no readinessProbe (no container declares the target port %s of service %s)",
			c.c.Name, firstTarget.String(), services[0].Name))
	}
	return out, evidence
}

// declares finds target among c's ports: by number, or by name; the container port's number.
func declares(c *corev1.Container, target intstr.IntOrString, protocol corev1.Protocol) (int32, bool) {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	for _, p := range c.Ports {
		pp := p.Protocol
		if pp == "" {
			pp = corev1.ProtocolTCP
		}
		if pp != protocol {
			continue
		}
		if (target.Type == intstr.String && p.Name == target.StrVal) || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// suggestedReadiness is a TCP check of the served port, unless the liveness probe is already
// one (then the two would be the same probe): an HTTP check of a readiness path to fill in.
func suggestedReadiness(m unprobedContainer) map[string]any {
	port := portValue(m.port)
	if l := m.c.LivenessProbe; l != nil && l.TCPSocket != nil {
		return map[string]any{"httpGet": map[string]any{"path": "/READINESS_PATH", "port": port}, "periodSeconds": 5}
	}
	return map[string]any{"tcpSocket": map[string]any{"port": port}, "periodSeconds": 5}
}

// LivenessIsReadiness finds containers whose liveness probe asks what their readiness probe asks.
type LivenessIsReadiness struct{}

func (LivenessIsReadiness) Meta() check.Meta {
	return check.Meta{
		ID:       "liveness-probe-same-as-readiness",
		Title:    "Liveness probes ask what readiness probes ask",
		Category: check.CategoryReliability,
		Severity: check.Low,
		Requires: workloadKinds(),
		Optional: optionalKinds(snapshot.KindEvents),
		Description: "Compares each container's livenessProbe with its readinessProbe: the same HTTP request, gRPC service " +
			"or command (timings aside). Two TCP checks of one port are left alone: a TCP check asks only whether the " +
			"process listens, which is what liveness is for. Low; medium on a live cluster where the workload's pods " +
			"have failed their liveness probe (Unhealthy events), since the restarts are then happening.",
		Why: "Readiness answers \"can I serve now?\", which often depends on a database or another service; liveness " +
			"answers \"is this process stuck for good?\", and a failure restarts the container. When the two ask the same, " +
			"a slow dependency makes every replica fail liveness together, and the kubelet restarts them all: the outage " +
			"of one dependency becomes a crash loop of everything that uses it, and the restarts add load as it recovers.",
		Remediation: "Make liveness check the process alone (a TCP check of its port, or an endpoint that does not call " +
			"dependencies), with a longer period or failureThreshold than readiness; keep the dependency checks in " +
			"readiness, which only takes the pod out of its Services.",
		References: []string{referenceProbes, "https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/"},
	}
}

func (c LivenessIsReadiness) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, w := range s.Workloads() {
		var same []*corev1.Container
		for _, ct := range containersOf(w.Spec, specPath(w.Ref)) {
			l, r := ct.c.LivenessProbe, ct.c.ReadinessProbe
			if l == nil || r == nil || l.TCPSocket != nil || !equality.Semantic.DeepEqual(l.ProbeHandler, r.ProbeHandler) {
				continue
			}
			same = append(same, ct.c)
		}
		if len(same) == 0 {
			continue
		}
		var names, evidence []string
		var patch []any
		for _, ct := range same {
			names = append(names, ct.Name)
			evidence = append(evidence, fmt.Sprintf("container %s: livenessProbe and readinessProbe both %s", ct.Name, describeHandler(ct.LivenessProbe.ProbeHandler)))
			if p := livenessByPort(ct.LivenessProbe); p != nil {
				patch = append(patch, map[string]any{"name": ct.Name, "livenessProbe": p})
			}
		}
		f := check.New(meta, fmt.Sprintf("%s restarts its %s when %s readiness check fails for long enough: liveness and "+
			"readiness ask the same (%s), so a slow dependency restarts every replica", w.Ref.Describe(),
			check.PluralForm(len(same), "container", "containers"), check.PluralForm(len(same), "its", "their"), strings.Join(names, ", ")), w.Ref)
		failures := livenessFailures(s, w.Ref, names)
		if len(failures) > 0 {
			f.Severity = check.Medium
			f.Incident = true
			f.Message += fmt.Sprintf("; %s failed %s liveness probe", check.Plural(len(failures), "pod", "pods"), check.PluralForm(len(failures), "its", "their"))
			for _, e := range failures {
				evidence = append(evidence, fmt.Sprintf("pod %s: %s (%s, %s)", e.InvolvedObject.Name, firstLine(e.Message),
					check.Plural(int(snapshot.EventCount(&e)), "time", "times"), check.Ago(snapshot.LastSeen(&e), s.CollectedAt)))
			}
		}
		f.Evidence = check.LimitEvidence(evidence)
		if len(patch) > 0 {
			f.Fix = []string{check.TemplatePatch(w, map[string]any{"spec": map[string]any{"containers": patch}},
				"liveness asks only whether the process listens; readiness keeps its check")}
		} else {
			f.Fix = []string{check.Comment(fmt.Sprintf("give the livenessProbe of %s a command that checks the process alone, not what readiness checks", strings.Join(names, ", ")))}
		}
		findings = append(findings, f)
	}
	return findings
}

// describeHandler reads a probe's handler as the evidence shows it.
func describeHandler(h corev1.ProbeHandler) string {
	switch {
	case h.HTTPGet != nil:
		return fmt.Sprintf("GET %s on port %s", h.HTTPGet.Path, h.HTTPGet.Port.String())
	case h.GRPC != nil:
		svc := ""
		if h.GRPC.Service != nil {
			svc = " service " + *h.GRPC.Service
		}
		return fmt.Sprintf("gRPC health%s on port %d", svc, h.GRPC.Port)
	case h.Exec != nil:
		return fmt.Sprintf("run %q", strings.Join(h.Exec.Command, " "))
	case h.TCPSocket != nil:
		return "TCP connect to port " + h.TCPSocket.Port.String()
	}
	return "no handler"
}

// livenessByPort is a liveness probe that checks the same port by TCP, replacing an HTTP or gRPC
// check (null removes them in a strategic merge patch); nil for a command, whose port is unknown.
func livenessByPort(p *corev1.Probe) map[string]any {
	var port any
	switch {
	case p.HTTPGet != nil:
		port = portValue(p.HTTPGet.Port)
	case p.GRPC != nil:
		port = p.GRPC.Port
	default:
		return nil
	}
	return map[string]any{"httpGet": nil, "grpc": nil, "tcpSocket": map[string]any{"port": port}}
}

// livenessFailures are the Unhealthy events of the workload's live pods that say a liveness
// probe failed, for one of the named containers, newest first, one per pod.
func livenessFailures(s *snapshot.Snapshot, owner snapshot.Ref, containers []string) []corev1.Event {
	var out []corev1.Event
	for _, pod := range s.PodsOf(owner) {
		for _, e := range s.WarningEvents("Pod", pod.Namespace, pod.Name) {
			if e.Reason == "Unhealthy" && strings.HasPrefix(e.Message, "Liveness probe failed") &&
				slices.ContainsFunc(containers, func(name string) bool { return eventAbout(e, name) }) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// eventAbout tells whether a pod's event is about the named container: the kubelet names it in
// the field path, spec.containers{NAME}; an event that names no container is about the pod.
func eventAbout(e corev1.Event, container string) bool {
	path := e.InvolvedObject.FieldPath
	return path == "" || strings.HasSuffix(path, "{"+container+"}")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// LivenessKillsStartup finds containers that the liveness probe kills before they finish
// starting, as their restarts show.
type LivenessKillsStartup struct{}

func (LivenessKillsStartup) Meta() check.Meta {
	return check.Meta{
		ID:       "liveness-probe-kills-startup",
		Title:    "Liveness probes restart containers before they start",
		Category: check.CategoryReliability,
		Severity: check.Medium,
		Requires: workloadKinds(),
		Optional: optionalKinds(snapshot.KindEvents),
		LiveOnly: true,
		Description: "Looks at running pods' containers that have a livenessProbe and no startupProbe, and have restarted: " +
			"reported when the restarts show the probe killed the container while it started, that is, an Unhealthy " +
			"event says the liveness probe failed, or the last run ended by a signal (exit code 137 or 143, not " +
			"OOMKilled) after about as long as the probe allows a start (initialDelaySeconds + failureThreshold × " +
			"periodSeconds, give or take a period and the termination grace). A liveness probe without " +
			"initialDelaySeconds or startupProbe is left alone otherwise: most images start within the probe's " +
			"allowance, and only restarts tell which do not. Live clusters only.",
		Why: "The kubelet starts liveness checks with the container; one that needs longer to start than the probe allows " +
			"is killed before it is up, restarted, and killed again: it never serves, and the back-off grows. " +
			"A slower node, a colder cache or a bigger data set can push a container that started fine yesterday " +
			"over the limit.",
		Remediation: "Add a startupProbe with the liveness probe's check and a failureThreshold × periodSeconds that covers " +
			"the slowest start (liveness waits for it to succeed), rather than a long initialDelaySeconds, which also " +
			"delays detection of a real hang.",
		References: []string{referenceProbes + "#define-startup-probes"},
		// The crash loop is how this shows: its finding (with the logs to read) belongs under this one.
		Absorbs: []string{"pod-crashloop"},
	}
}

func (c LivenessKillsStartup) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, w := range s.Workloads() {
		var evidence, names []string
		var patch []any
		var since []time.Time
		for _, ct := range containersOf(w.Spec, specPath(w.Ref)) {
			l := ct.c.LivenessProbe
			if !ct.serving() || l == nil || ct.c.StartupProbe != nil {
				continue
			}
			killed := false
			for _, pod := range s.PodsOf(w.Ref) {
				if line, at, ok := killedStarting(s, pod, ct.c.Name, l); ok {
					evidence = append(evidence, line)
					since = append(since, at)
					killed = true
				}
			}
			if killed {
				names = append(names, ct.c.Name)
				patch = append(patch, map[string]any{"name": ct.c.Name, "startupProbe": startupFor(l)})
			}
		}
		if len(names) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("The liveness probe of %s kills %s %s before %s started: no startupProbe gives "+
			"%s longer to start", w.Ref.Describe(), check.PluralForm(len(names), "container", "containers"), strings.Join(names, ", "),
			check.PluralForm(len(names), "it has", "they have"), check.PluralForm(len(names), "it", "them")), w.Ref)
		f.Incident = true
		f.Since = check.Earliest(since...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = []string{check.TemplatePatch(w, map[string]any{"spec": map[string]any{"containers": patch}},
			"liveness waits until the startup probe succeeds; raise failureThreshold if the start takes longer than 5 minutes")}
		findings = append(findings, f)
	}
	return findings
}

// probeWindow is how long a liveness probe lets a container run before it is killed, if it never
// succeeds: the initial delay and failureThreshold periods (API defaults 10 s and 3).
func probeWindow(p *corev1.Probe) (window, period time.Duration) {
	period, failures := 10*time.Second, int32(3)
	if p.PeriodSeconds > 0 {
		period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.FailureThreshold > 0 {
		failures = p.FailureThreshold
	}
	return time.Duration(p.InitialDelaySeconds)*time.Second + time.Duration(failures)*period, period
}

// killedStarting tells whether a restart of the container in pod shows the liveness probe killed it
// while it started, with the evidence and when.
func killedStarting(s *snapshot.Snapshot, pod *corev1.Pod, name string, l *corev1.Probe) (string, time.Time, bool) {
	var status *corev1.ContainerStatus
	for _, st := range snapshot.ContainerStatuses(pod) {
		if st.Name == name {
			status = &st
			break
		}
	}
	if status == nil || status.RestartCount == 0 || (status.Ready && status.Started != nil && *status.Started && status.State.Running != nil &&
		status.State.Running.StartedAt.Time.Before(s.CollectedAt.Add(-time.Hour))) {
		return "", time.Time{}, false // up for an hour: the restarts are history
	}
	window, period := probeWindow(l)
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	line := fmt.Sprintf("pod %s container %s: restarted %s; liveness allows %s to start (initialDelaySeconds %d + %d × %ds)",
		pod.Name, name, check.Plural(int(status.RestartCount), "time", "times"), window, l.InitialDelaySeconds, failureThreshold(l), int(period.Seconds()))
	var at time.Time
	ranShort := false
	if t := status.LastTerminationState.Terminated; t != nil && !t.StartedAt.IsZero() && !t.FinishedAt.IsZero() {
		ran := t.FinishedAt.Sub(t.StartedAt.Time)
		at = t.FinishedAt.Time
		line += fmt.Sprintf("; the last run lasted %s, exit code %d", ran.Round(time.Second), t.ExitCode)
		if t.Reason != "" {
			line += " (" + t.Reason + ")"
		}
		signalled := (t.ExitCode == 137 || t.ExitCode == 143) && t.Reason != "OOMKilled"
		ranShort = signalled && ran >= window-period && ran <= window+grace+period
	}
	for _, e := range s.WarningEvents("Pod", pod.Namespace, pod.Name) {
		if e.Reason == "Unhealthy" && strings.HasPrefix(e.Message, "Liveness probe failed") && eventAbout(e, name) {
			if at.IsZero() {
				at = e.FirstTimestamp.Time
			}
			return line + "; " + firstLine(e.Message), at, true
		}
	}
	return line, at, ranShort
}

func failureThreshold(p *corev1.Probe) int32 {
	if p.FailureThreshold > 0 {
		return p.FailureThreshold
	}
	return 3
}

// startupFor is a startup probe with the liveness probe's check that allows five minutes.
func startupFor(l *corev1.Probe) map[string]any {
	probe := map[string]any{"failureThreshold": 30, "periodSeconds": 10}
	switch h := l.ProbeHandler; {
	case h.HTTPGet != nil:
		get := map[string]any{"path": h.HTTPGet.Path, "port": portValue(h.HTTPGet.Port)}
		if h.HTTPGet.Scheme != "" && h.HTTPGet.Scheme != corev1.URISchemeHTTP {
			get["scheme"] = string(h.HTTPGet.Scheme)
		}
		probe["httpGet"] = get
	case h.TCPSocket != nil:
		probe["tcpSocket"] = map[string]any{"port": portValue(h.TCPSocket.Port)}
	case h.GRPC != nil:
		probe["grpc"] = map[string]any{"port": h.GRPC.Port}
	case h.Exec != nil:
		probe["exec"] = map[string]any{"command": h.Exec.Command}
	}
	return probe
}

func portValue(p intstr.IntOrString) any {
	if p.Type == intstr.String {
		return p.StrVal
	}
	return p.IntVal
}
