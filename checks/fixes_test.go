package checks

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The fixes of every check, on every fixture, are held to what someone pasting them into a
// shell in the middle of an incident needs: commands kubectl takes, about objects that exist,
// one for each namespace a finding spans, nothing the shell reads differently (a <placeholder>
// is a redirect, a name from a manifest may hold $(...)), no kubectl top without the metrics
// API, and no rollout undo without a revision to go back to.

// payload marks what the hostile fixture's names try to run; it must never reach the shell
// outside quotes.
const payload = "pwned"

type fixScenario struct {
	name string
	s    *snapshot.Snapshot
}

// fixScenarios are every fixture of every family, the demo's incident, names chosen to break
// out of a command, and the synthetic cluster; each also without the metrics API and without
// the ReplicaSets, which fixes must then not count on.
func fixScenarios(t *testing.T) []fixScenario {
	t.Helper()
	paths := append(fixturePaths(t), filepath.Join("..", "hack", "demo", "scenario.yaml"), filepath.Join("testdata", "hostile-names.yaml"))
	var out []fixScenario
	for _, path := range paths {
		load := func() *snapshot.Snapshot { return loadFixture(t, path) }
		noMetrics := load()
		noMetrics.PodMetrics = nil
		noMetrics.MarkAbsent(snapshot.KindPodMetrics, "the metrics API (metrics.k8s.io) is not served: install metrics-server")
		noReplicaSets := load()
		noReplicaSets.ReplicaSets = nil
		noReplicaSets.MarkUnavailable(snapshot.KindReplicaSets, "forbidden")
		noReplicaSets.Finish()
		out = append(out, fixScenario{path, load()}, fixScenario{path + " without metrics", noMetrics},
			fixScenario{path + " without replicasets", noReplicaSets})
	}
	synthetic := syntheticCluster(40, 3, 4)
	synthetic.CollectedAt = fixNow
	return append(out, fixScenario{"synthetic cluster", synthetic})
}

func TestFixesAreSafeAndTrue(t *testing.T) {
	checked, hostile := 0, 0
	for _, sc := range fixScenarios(t) {
		for _, c := range All(DefaultOptions()) {
			meta := c.Meta()
			if reason, _ := check.WhyNot(c, sc.s); reason != "" {
				continue
			}
			for _, f := range c.Run(sc.s) {
				where := fmt.Sprintf("%s on %s, %s", meta.ID, sc.name, fixture(f))
				var commands [][]string
				for _, fix := range f.Fix {
					parsed, problems := parseFix(fix)
					for _, p := range problems {
						t.Errorf("%s: %s in fix %q", where, p, fix)
					}
					commands = append(commands, parsed...)
					if sc.s.Absent[snapshot.KindPodMetrics] && strings.Contains(fix, "kubectl top") {
						t.Errorf("%s: kubectl top without the metrics API: %q", where, fix)
					}
					if strings.Contains(fix, payload) {
						hostile++
					}
				}
				for _, command := range commands {
					for _, p := range kubectlProblems(sc.s, meta, f, command) {
						t.Errorf("%s: %s: %q", where, p, strings.Join(command, " "))
					}
				}
				for _, p := range namespaceCoverage(f, commands) {
					t.Errorf("%s: %s; fix %q", where, p, f.Fix)
				}
				checked++
			}
		}
	}
	if checked < 200 || hostile == 0 {
		t.Errorf("only %d findings checked, %d fixes with hostile names: the fixtures no longer exercise the fixes", checked, hostile)
	}
}

func fixture(f check.Finding) string {
	if len(f.Objects) == 0 {
		return "no object"
	}
	return f.Objects[0].String()
}

// parseFix reads one fix the way a POSIX shell would, and returns its commands as words, with
// what a shell would do that the tool did not mean: redirections, command substitution,
// background jobs, programs other than the few fixes use, unterminated quotes. Comments are
// skipped; so is the body of a quoted heredoc (<<'EOF'), and the manifest snippet under a fix
// that starts as a comment, which is YAML to put in a file, not shell.
func parseFix(fix string) (commands [][]string, problems []string) {
	if strings.HasPrefix(fix, "#") {
		first, snippet, _ := strings.Cut(fix, "\n")
		if strings.ContainsAny(first, "\r") || strings.Contains(snippet, payload) {
			problems = append(problems, "a name from the cluster in a commented manifest")
		}
		return nil, problems
	}
	var words []string
	var word strings.Builder
	inWord, heredoc := false, false
	endWord := func() {
		if inWord {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	endCommand := func() {
		endWord()
		if len(words) > 0 && words[0] == "do" {
			words = words[1:]
		}
		if len(words) > 0 {
			commands = append(commands, words)
		}
		words = nil
	}
	runes := []rune(fix)
	unquoted := func(r rune) {
		word.WriteRune(r)
		inWord = true
		if strings.HasSuffix(word.String(), payload) {
			problems = append(problems, "a name from the cluster outside quotes")
		}
	}
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r == '\'':
			end := slices.Index(runes[i+1:], '\'')
			if end < 0 {
				return commands, append(problems, "unterminated single quote")
			}
			word.WriteString(string(runes[i+1 : i+1+end]))
			inWord = true
			i += end + 1
		case r == '"':
			end := slices.Index(runes[i+1:], '"')
			if end < 0 {
				return commands, append(problems, "unterminated double quote")
			}
			inside := string(runes[i+1 : i+1+end])
			if strings.Contains(inside, "$(") || strings.ContainsAny(inside, "`\\") {
				problems = append(problems, "command substitution in double quotes")
			}
			word.WriteString(inside)
			inWord = true
			i += end + 1
		case r == '\\':
			if i+1 < len(runes) {
				i++
				word.WriteRune(runes[i])
				inWord = true
			}
		case r == '#' && !inWord:
			end := slices.Index(runes[i:], '\n')
			if end < 0 {
				i = len(runes)
			} else {
				i += end - 1
			}
		case r == ' ' || r == '\t':
			endWord()
		case r == '\n':
			endCommand()
			if heredoc {
				// The body runs to the first line that is only the delimiter.
				rest := string(runes[i+1:])
				end := strings.Index("\n"+rest+"\n", "\nEOF\n")
				if end < 0 {
					return commands, append(problems, "heredoc without its EOF line")
				}
				i += len([]rune(rest[:end])) + len("EOF")
				heredoc = false
			}
		case r == ';' || r == '|':
			endCommand()
		case r == '<' && strings.HasPrefix(string(runes[i:]), "<<'EOF'"):
			endWord()
			heredoc = true
			i += len("<<'EOF'") - 1
		case r == '<' || r == '>' || r == '&' || r == '`' || r == '(' || r == ')':
			problems = append(problems, fmt.Sprintf("%q outside quotes", r))
		case r == '$' && i+1 < len(runes) && runes[i+1] == '(':
			problems = append(problems, "command substitution")
		default:
			unquoted(r)
		}
	}
	endCommand()
	if heredoc {
		problems = append(problems, "heredoc without a body")
	}
	for _, command := range commands {
		switch command[0] {
		case "kubectl", "grep", "curl", "for", "done":
		default:
			problems = append(problems, fmt.Sprintf("runs %q", command[0]))
		}
	}
	return commands, problems
}

// valueFlags are the kubectl flags fixes use that take the next word as their value.
var valueFlags = map[string]bool{
	"-n": true, "--namespace": true, "-c": true, "--container": true, "-l": true, "--selector": true,
	"-o": true, "--output": true, "-p": true, "--patch": true, "--type": true, "-f": true, "--filename": true,
	"--field-selector": true, "--sort-by": true, "--image": true, "--profile": true, "--replicas": true,
	"--limits": true, "--requests": true, "--tail": true, "--max-unavailable": true, "--to-revision": true,
}

// kubectlCommand is a kubectl command line taken apart.
type kubectlCommand struct {
	namespace  string
	allSpaces  bool
	selector   bool
	container  string
	toRevision string
	positional []string
}

func parseKubectl(words []string) kubectlCommand {
	var k kubectlCommand
	for i := 1; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			break // what kubectl debug runs
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			k.positional = append(k.positional, w)
			continue
		}
		name, value, inline := strings.Cut(w, "=")
		if !inline && valueFlags[name] && i+1 < len(words) {
			i++
			value = words[i]
		}
		switch name {
		case "-n", "--namespace":
			k.namespace = value
		case "-A", "--all-namespaces":
			k.allSpaces = true
		case "-l", "--selector":
			k.selector = true
		case "-c", "--container":
			k.container = value
		case "--to-revision":
			k.toRevision = value
		}
	}
	return k
}

// target is one object (or, without a name, one kind) a kubectl command acts on.
type target struct {
	typ, name string
}

// targets are what the command names, per verb.
func (k kubectlCommand) targets() (verb string, out []target) {
	if len(k.positional) == 0 {
		return "", nil
	}
	verb, args := k.positional[0], k.positional[1:]
	split := func(args []string) {
		if len(args) == 0 {
			return
		}
		if strings.Contains(args[0], "/") {
			for _, a := range args {
				typ, name, _ := strings.Cut(a, "/")
				out = append(out, target{typ, name})
			}
			return
		}
		for _, typ := range strings.Split(args[0], ",") {
			if len(args) == 1 {
				out = append(out, target{typ: typ})
			}
			for _, name := range args[1:] {
				out = append(out, target{typ, name})
			}
		}
	}
	switch verb {
	case "rollout", "set":
		if len(args) > 1 {
			if verb == "set" && args[0] == "image" {
				args = args[:2] // then CONTAINER=IMAGE pairs
			}
			split(args[1:])
		}
	case "logs":
		if len(args) > 0 {
			if strings.Contains(args[0], "/") {
				split(args[:1])
			} else {
				out = append(out, target{"pod", args[0]})
			}
		}
	case "debug":
		split(args)
	case "drain", "cordon", "uncordon":
		for _, a := range args {
			out = append(out, target{"node", a})
		}
	case "create":
		if len(args) > 0 {
			out = append(out, target{typ: args[0]}) // the object it creates does not exist yet
		}
	case "get", "describe", "edit", "delete", "patch", "scale", "top":
		split(args)
	}
	return verb, out
}

// kubectlProblems says what is wrong with one command of f's fix: an unknown resource type, a
// namespace missing or given where none belongs, an object that is neither f's nor one the
// snapshot shows (of a kind the check reads), a container the pod does not have, kubectl top
// without the metrics API, rollout undo without an earlier revision.
func kubectlProblems(s *snapshot.Snapshot, meta check.Meta, f check.Finding, words []string) []string {
	if words[0] != "kubectl" {
		return nil
	}
	k := parseKubectl(words)
	verb, targets := k.targets()
	var problems []string
	if verb == "" {
		return []string{"no kubectl verb"}
	}
	if verb == "apply" {
		if k.namespace == "" {
			problems = append(problems, "kubectl apply of namespaced objects without -n")
		}
		return problems
	}
	if verb == "logs" && len(targets) == 0 && (!k.selector || k.namespace == "") {
		problems = append(problems, "kubectl logs without a pod, or a selector and a namespace")
	}
	declared := map[snapshot.Kind]bool{}
	for _, kind := range append(append([]snapshot.Kind{}, meta.Requires...), meta.Optional...) {
		declared[kind] = true
	}
	for _, tg := range targets {
		kind, ok := snapshot.KindForType(tg.typ)
		if !ok && strings.Contains(tg.typ, ".") {
			continue // resource.group: a custom resource, which no snapshot holds
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown resource type %q", tg.typ))
			continue
		}
		info := kind.Info()
		switch {
		case info.Namespaced && k.namespace == "" && (tg.name != "" || !k.allSpaces):
			problems = append(problems, fmt.Sprintf("%s without -n", tg.typ))
		case !info.Namespaced && k.namespace != "":
			problems = append(problems, fmt.Sprintf("-n for cluster-scoped %s", tg.typ))
		}
		if verb == "top" && !check.MetricsServed(s) {
			problems = append(problems, "kubectl top, but the metrics API did not answer")
		}
		if tg.name == "" || verb == "create" {
			continue
		}
		ref := snapshot.RefTo(kind, k.namespace, tg.name)
		if !info.Namespaced {
			ref.Namespace = ""
		}
		own := slices.ContainsFunc(f.Objects, func(o snapshot.Ref) bool {
			return o.Kind == ref.Kind && o.Namespace == ref.Namespace && o.Name == ref.Name
		})
		if _, unread := s.Unavailable[kind]; declared[kind] && !unread && !own {
			object, found := s.ObjectMeta(ref)
			if !found {
				problems = append(problems, fmt.Sprintf("%s does not exist", ref))
			} else if kind == snapshot.KindPods && k.container != "" && !podHasContainer(s, object, k.container) {
				problems = append(problems, fmt.Sprintf("%s has no container %s", ref, k.container))
			}
		}
		if verb == "set" {
			for _, c := range setContainers(k) {
				if !templateHasContainer(s, ref, c) {
					problems = append(problems, fmt.Sprintf("%s has no container %s", ref, c))
				}
			}
		}
		if verb == "rollout" && k.positional[1] == "undo" && !hasEarlierRevision(s, ref) {
			problems = append(problems, fmt.Sprintf("rollout undo, but %s has no earlier revision the snapshot shows", ref))
		}
		if verb == "rollout" && k.toRevision != "" && !hasRevision(s, ref, k.toRevision) {
			problems = append(problems, fmt.Sprintf("rollout undo --to-revision=%s, but %s has no such revision", k.toRevision, ref))
		}
	}
	return problems
}

func podHasContainer(s *snapshot.Snapshot, object metav1.Object, container string) bool {
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Namespace != object.GetNamespace() || pod.Name != object.GetName() {
			continue
		}
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if c.Name == container {
				return true
			}
		}
		for _, cs := range snapshot.ContainerStatuses(pod) {
			if cs.Name == container {
				return true
			}
		}
	}
	return false
}

// setContainers are the containers kubectl set names: -c for resources, the CONTAINER=IMAGE
// pairs for image.
func setContainers(k kubectlCommand) []string {
	if len(k.positional) > 1 && k.positional[1] == "image" {
		var names []string
		for _, pair := range k.positional[3:] {
			name, _, _ := strings.Cut(pair, "=")
			names = append(names, name)
		}
		return names
	}
	if k.container != "" {
		return []string{k.container}
	}
	return nil
}

// templateHasContainer tells whether the workload's pod template has the container; a workload
// the snapshot does not hold is given the benefit of the doubt.
func templateHasContainer(s *snapshot.Snapshot, ref snapshot.Ref, container string) bool {
	for _, w := range s.Workloads() {
		if w.Ref.Kind == ref.Kind && w.Ref.Namespace == ref.Namespace && w.Ref.Name == ref.Name {
			return slices.ContainsFunc(append(append([]corev1.Container{}, w.Spec.InitContainers...), w.Spec.Containers...),
				func(c corev1.Container) bool { return c.Name == container })
		}
	}
	return true
}

// hasRevision tells whether a Deployment has a ReplicaSet numbered revision.
func hasRevision(s *snapshot.Snapshot, ref snapshot.Ref, revision string) bool {
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		owner := metav1.GetControllerOf(rs)
		if rs.Namespace == ref.Namespace && owner != nil && owner.Kind == ref.Kind && owner.Name == ref.Name &&
			rs.Annotations["deployment.kubernetes.io/revision"] == revision {
			return true
		}
	}
	return false
}

// hasEarlierRevision tells, from the snapshot alone, that rollout undo has a revision to go back
// to: a Deployment with two numbered ReplicaSets, a StatefulSet mid-rollout between two
// revisions, a DaemonSet with nodes still on an earlier one.
func hasEarlierRevision(s *snapshot.Snapshot, ref snapshot.Ref) bool {
	switch ref.Kind {
	case "Deployment":
		if _, unread := s.Unavailable[snapshot.KindReplicaSets]; unread {
			return false
		}
		numbered := 0
		for i := range s.ReplicaSets {
			rs := &s.ReplicaSets[i]
			owner := metav1.GetControllerOf(rs)
			if rs.Namespace == ref.Namespace && owner != nil && owner.Kind == "Deployment" && owner.Name == ref.Name &&
				rs.Annotations["deployment.kubernetes.io/revision"] != "" {
				numbered++
			}
		}
		return numbered > 1
	case "StatefulSet":
		for i := range s.StatefulSets {
			st := &s.StatefulSets[i]
			if st.Namespace == ref.Namespace && st.Name == ref.Name {
				return st.Status.CurrentRevision != "" && st.Status.UpdateRevision != "" && st.Status.CurrentRevision != st.Status.UpdateRevision
			}
		}
	case "DaemonSet":
		for i := range s.DaemonSets {
			ds := &s.DaemonSets[i]
			if ds.Namespace == ref.Namespace && ds.Name == ref.Name {
				return ds.Status.UpdatedNumberScheduled < ds.Status.CurrentNumberScheduled
			}
		}
	}
	return false
}

// namespaceCoverage says what a fix misses of the namespaces its finding spans: once the fix
// works in namespaces at all, each namespace of the finding's objects must have its command (up
// to check.MaxFixes of them, the rest counted in a comment), and no command may work in a
// namespace that is neither the finding's nor that of an object the snapshot holds. The
// subjects and roles named beside an RBAC binding are where the binding points, not where the
// fix works, and are left out.
func namespaceCoverage(f check.Finding, commands [][]string) []string {
	var objectNamespaces []string
	for _, o := range f.Objects {
		ns := o.Namespace
		switch o.Kind {
		case "ServiceAccount", "Role", "ClusterRole", "User", "Group":
			continue
		case "Namespace":
			ns = o.Name
		}
		if ns != "" && !slices.Contains(objectNamespaces, ns) {
			objectNamespaces = append(objectNamespaces, ns)
		}
	}
	var fixNamespaces []string
	for _, command := range commands {
		switch command[0] {
		case "kubectl":
			if ns := parseKubectl(command).namespace; ns != "" && ns != "$ns" {
				fixNamespaces = append(fixNamespaces, ns)
			}
		case "for":
			if len(command) > 3 && command[2] == "in" {
				fixNamespaces = append(fixNamespaces, command[3:]...)
			}
		}
	}
	if len(fixNamespaces) == 0 || len(objectNamespaces) == 0 {
		return nil
	}
	var problems []string
	covered := 0
	for _, ns := range objectNamespaces {
		if slices.Contains(fixNamespaces, ns) {
			covered++
		}
	}
	counted := slices.ContainsFunc(f.Fix, func(line string) bool { return strings.HasPrefix(line, "# ... and ") })
	if covered < len(objectNamespaces) && (covered < check.MaxFixes || !counted) {
		problems = append(problems, fmt.Sprintf("commands for %d of the %d namespaces %v", covered, len(objectNamespaces), objectNamespaces))
	}
	return problems
}
