// Package storage judges volumes: claims that do not bind, volumes that do not attach or mount,
// CSI drivers missing from the nodes that need them, and volumes nearly full.
package storage

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Checks lists the family's checks.
func Checks() []check.Check {
	return []check.Check{PendingClaims{}, MultiAttach{}, MountFailures{}, CSIDriverMissing{}, VolumeFull{}}
}

// ownerKinds sharpen pods' top-level owners (a Deployment rather than its ReplicaSet).
func ownerKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs}
}

// Annotations the control plane sets on claims.
const (
	// annSelectedNode is set by the scheduler on a WaitForFirstConsumer claim once it has picked
	// the consumer's node.
	annSelectedNode = "volume.kubernetes.io/selected-node"
	// annStorageProvisioner (and its beta name) is set by the PV controller on a claim it leaves
	// to an external provisioner.
	annStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	// annDefaultClass marks the default StorageClass (and its beta name).
	annDefaultClass     = "storageclass.kubernetes.io/is-default-class"
	annBetaDefaultClass = "storageclass.beta.kubernetes.io/is-default-class"
)

// recentEvents is how far back an attach or mount failure still says what is wrong now.
const recentEvents = time.Hour

// model indexes what the family's checks look up, built once per run of a check: linear in the
// objects, never a scan per claim.
type model struct {
	s         *snapshot.Snapshot
	claims    map[key]*corev1.PersistentVolumeClaim
	consumers map[key][]*corev1.Pod
	classes   map[string]*storagev1.StorageClass
	defaults  []string
	volumes   map[string]*corev1.PersistentVolume
	nodes     map[string]*corev1.Node
	csiNodes  map[string]*storagev1.CSINode
	// registered counts the nodes that have registered each CSI driver.
	registered map[string]int
	readyPods  map[snapshot.Ref]int
	ownerCache map[*corev1.Pod]snapshot.Ref
}

type key struct{ namespace, name string }

func newModel(s *snapshot.Snapshot) *model {
	m := &model{s: s, claims: map[key]*corev1.PersistentVolumeClaim{}, consumers: map[key][]*corev1.Pod{},
		classes: map[string]*storagev1.StorageClass{}, volumes: map[string]*corev1.PersistentVolume{},
		nodes: map[string]*corev1.Node{}, csiNodes: map[string]*storagev1.CSINode{}, registered: map[string]int{}, readyPods: map[snapshot.Ref]int{},
		ownerCache: map[*corev1.Pod]snapshot.Ref{}}
	for i := range s.PersistentVolumeClaims {
		c := &s.PersistentVolumeClaims[i]
		m.claims[key{c.Namespace, c.Name}] = c
	}
	for i := range s.StorageClasses {
		sc := &s.StorageClasses[i]
		m.classes[sc.Name] = sc
		if sc.Annotations[annDefaultClass] == "true" || sc.Annotations[annBetaDefaultClass] == "true" {
			m.defaults = append(m.defaults, sc.Name)
		}
	}
	for i := range s.PersistentVolumes {
		m.volumes[s.PersistentVolumes[i].Name] = &s.PersistentVolumes[i]
	}
	for i := range s.Nodes {
		m.nodes[s.Nodes[i].Name] = &s.Nodes[i]
	}
	for i := range s.CSINodes {
		m.csiNodes[s.CSINodes[i].Name] = &s.CSINodes[i]
		for _, d := range s.CSINodes[i].Spec.Drivers {
			m.registered[d.Name]++
		}
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !snapshot.IsLive(pod) {
			continue
		}
		if snapshot.PodReady(pod) {
			m.readyPods[m.owner(pod)]++
		}
		for _, claim := range claimNames(pod) {
			k := key{pod.Namespace, claim}
			m.consumers[k] = append(m.consumers[k], pod)
		}
	}
	return m
}

// claimNames are the claims a pod mounts: those it names, and those its generic ephemeral
// volumes get (named POD-VOLUME by the ephemeral volume controller).
func claimNames(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

func (m *model) owner(pod *corev1.Pod) snapshot.Ref {
	if r, ok := m.ownerCache[pod]; ok {
		return r
	}
	r := m.s.TopOwner(pod)
	m.ownerCache[pod] = r
	return r
}

// impact grades what a volume problem takes down: critical when the owner of the pods it
// holds back has no ready pod left, high while some still serve.
func (m *model) impact(owner snapshot.Ref) check.Severity {
	if m.readyPods[owner] == 0 {
		return check.Critical
	}
	return check.High
}

// nodeDown tells a node that is NotReady or no longer exists; state says which ("is NotReady").
func (m *model) nodeDown(name string) (down bool, state string) {
	node, ok := m.nodes[name]
	switch {
	case !ok && len(m.s.Nodes) > 0:
		return true, "no longer exists"
	case !ok:
		return false, ""
	case !snapshot.NodeReady(node):
		return true, "is NotReady"
	}
	return false, ""
}

// driverWord is the part of a driver's name worth grepping pods for: ebs in ebs.csi.aws.com.
func driverWord(driver string) string {
	for _, part := range strings.Split(driver, ".") {
		if part != "csi" && part != "" {
			return part
		}
	}
	return driver
}

// waiting says what a problem does to owner's pods: "pod shop/x waits" for a bare pod, else
// "2 pods of statefulset shop/db wait", adding that the owner has no ready pod left.
func (m *model) waiting(owner snapshot.Ref, pods int, verb, verbs string) string {
	if owner.Kind == "Pod" {
		return "pod " + owner.Namespace + "/" + owner.Name + " " + verb
	}
	out := fmt.Sprintf("%s of %s %s", check.Plural(pods, "pod", "pods"), owner.Describe(), check.PluralForm(pods, verb, verbs))
	if m.readyPods[owner] == 0 {
		out += ", and it has no ready pod"
	}
	return out
}

// recent are the Warning events about a pod of the given reasons seen in the last hour, newest
// first.
func recent(s *snapshot.Snapshot, pod *corev1.Pod, reasons ...string) []corev1.Event {
	var out []corev1.Event
	for _, e := range s.WarningEvents("Pod", pod.Namespace, pod.Name) {
		if slices.Contains(reasons, e.Reason) && s.CollectedAt.Sub(snapshot.LastSeen(&e)) <= recentEvents {
			out = append(out, e)
		}
	}
	return out
}

var (
	forVolume        = regexp.MustCompile(`for volume "([^"]+)"`)
	unmountedVolumes = regexp.MustCompile(`unmounted volumes=\[([^\]]*)\]`)
)

// volumeOf names the volume an attach or mount event is about, as its message says.
func volumeOf(message string) string {
	if m := forVolume.FindStringSubmatch(message); m != nil {
		return m[1]
	}
	if m := unmountedVolumes.FindStringSubmatch(message); m != nil {
		return strings.Join(strings.Fields(m[1]), ", ")
	}
	return ""
}

// describePods is the command that shows the pods' volumes and events.
func describePods(pods []*corev1.Pod) []string {
	return check.FixEach(len(pods), "pods", func(i int) string {
		return "kubectl describe pod -n " + check.Quote(pods[i].Namespace) + " " + check.Quote(pods[i].Name)
	})
}

// ownerRefs is the owners of pods, each once, in the pods' order.
func (m *model) ownerRefs(pods []*corev1.Pod) []snapshot.Ref {
	var out []snapshot.Ref
	for _, p := range pods {
		if o := m.owner(p); !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// worst is the most severe of severities; low when there are none.
func worst(severities ...check.Severity) check.Severity {
	out := check.Low
	for _, s := range severities {
		if s.Rank() < out.Rank() {
			out = s
		}
	}
	return out
}
