package hygiene

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// image is a container image as the kubelet reads it (github.com/distribution/reference, as
// kubelet and the API server's defaulting do): docker.io/library/ is implied for a bare name.
type image struct {
	named  reference.Named
	tag    string // "latest" when neither tag nor digest is given, as the API server reads it
	digest string
}

func parseImage(s string) (image, bool) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return image{}, false // the API server's validation or the kubelet reports it
	}
	var im image
	im.named = named
	if t, ok := named.(reference.Tagged); ok {
		im.tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		im.digest = d.Digest().String()
	}
	if im.tag == "" && im.digest == "" {
		im.tag = "latest"
	}
	return im, true
}

// pullPolicy is the container's policy as the API server defaults it: Always for the latest tag,
// IfNotPresent otherwise.
func pullPolicy(c *corev1.Container, im image) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	if im.tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// MutableImageTag finds containers whose image is :latest (or untagged) and not pulled each time.
type MutableImageTag struct{}

func (MutableImageTag) Meta() check.Meta {
	return check.Meta{
		ID:       "image-tag-mutable",
		Title:    "Images run a moving tag from the node's cache",
		Category: check.CategoryReliability,
		Severity: check.Medium,
		Requires: workloadKinds(),
		Optional: optionalKinds(),
		Description: "Reports containers (and init containers) whose image has no tag or the tag latest, without a digest, and " +
			"whose imagePullPolicy is IfNotPresent or Never. Without a policy the API server sets Always for such images, " +
			"which is left alone: each start then pulls the tag's current image. On a live cluster the evidence names " +
			"the image digests the pods run (their status' imageID), and the fix pins the one they run.",
		Why: "The tag moves and each node keeps whatever it pulled first: what runs is not what was reviewed, replicas " +
			"on different nodes run different code, and a rollback or reschedule can start another version than the " +
			"one before. A digest names exactly one image.",
		Remediation: "Pin the image by digest (name@sha256:...), or at least by a version tag that is never reused; the " +
			"patch pins the digest the pods run now, or asks for the digest you reviewed.",
		References: []string{referenceImages + "#image-names", referenceImages + "#imagepullpolicy-defaulting"},
	}
}

func (c MutableImageTag) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, w := range s.Workloads() {
		var evidence, names []string
		var patch, initPatch []any
		for _, ct := range containersOf(w.Spec, specPath(w.Ref)) {
			im, ok := parseImage(ct.c.Image)
			if !ok || im.digest != "" || im.tag != "latest" {
				continue
			}
			policy := pullPolicy(ct.c, im)
			if policy == corev1.PullAlways {
				continue
			}
			names = append(names, ct.c.Name)
			line := fmt.Sprintf("%s (%s): image %s, imagePullPolicy %s", ct.path, ct.c.Name, ct.c.Image, policy)
			running := runningDigests(s, w.Ref, ct.c.Name)
			pinned := reference.FamiliarName(im.named) + "@DIGEST"
			switch len(running) {
			case 0:
			case 1:
				pinned = reference.FamiliarName(im.named) + "@" + running[0]
				line += "; the pods run " + running[0]
			default:
				line += fmt.Sprintf("; the pods run %d different images: %s", len(running), strings.Join(running, ", "))
			}
			evidence = append(evidence, line)
			entry := map[string]any{"name": ct.c.Name, "image": pinned}
			if ct.init {
				initPatch = append(initPatch, entry)
			} else {
				patch = append(patch, entry)
			}
		}
		if len(names) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s runs %s %s from a moving tag that nodes keep in their cache (imagePullPolicy "+
			"not Always): what runs is not what was reviewed, and replicas may differ", w.Ref.Describe(),
			check.PluralForm(len(names), "container", "containers"), strings.Join(names, ", ")), w.Ref)
		f.Evidence = check.LimitEvidence(evidence)
		spec := map[string]any{}
		if len(patch) > 0 {
			spec["containers"] = patch
		}
		if len(initPatch) > 0 {
			spec["initContainers"] = initPatch
		}
		note := "pins the digest the pods run now"
		if slices.ContainsFunc(append(patch, initPatch...), func(e any) bool { return strings.HasSuffix(e.(map[string]any)["image"].(string), "@DIGEST") }) {
			note = "DIGEST: the sha256:... digest of the image you reviewed (docker buildx imagetools inspect, crane digest)"
		}
		f.Fix = []string{check.TemplatePatch(w, map[string]any{"spec": spec}, note)}
		findings = append(findings, f)
	}
	return findings
}

// runningDigests are the distinct digests the workload's pods run for the container, from the
// image IDs the kubelet reports (repo@sha256:...).
func runningDigests(s *snapshot.Snapshot, owner snapshot.Ref, name string) []string {
	var out []string
	for _, pod := range s.PodsOf(owner) {
		for _, st := range snapshot.ContainerStatuses(pod) {
			if st.Name != name {
				continue
			}
			if _, digest, ok := strings.Cut(st.ImageID, "@"); ok && strings.HasPrefix(digest, "sha256:") && !slices.Contains(out, digest) {
				out = append(out, digest)
			}
		}
	}
	slices.Sort(out)
	return out
}

// PullRateLimited finds workloads that pull from Docker Hub without credentials.
type PullRateLimited struct{}

// rateLimitedRegistry is the registry whose anonymous pulls are limited per source address.
const rateLimitedRegistry = "docker.io"

func (PullRateLimited) Meta() check.Meta {
	return check.Meta{
		ID:       "image-pull-rate-limited",
		Title:    "Images are pulled from Docker Hub without credentials",
		Category: check.CategoryReliability,
		Severity: check.Low,
		Requires: workloadKinds(snapshot.KindServiceAccounts),
		Optional: optionalKinds(),
		Description: "Reports workloads with an image from Docker Hub (docker.io, which is also where an image without a " +
			"registry host comes from) whose pod names no imagePullSecrets and whose ServiceAccount adds none, grouped " +
			"by ServiceAccount, where the fix goes. In manifests, a ServiceAccount other than default that the files " +
			"do not hold is not judged. Credentials the nodes bring (a kubelet credential provider, a registry mirror " +
			"in the container runtime's configuration) are not visible to the API and may make this moot.",
		Why: "Docker Hub limits anonymous pulls per source address, and a cluster's nodes usually share a few NAT " +
			"addresses: when a rollout, a scale-up or a node replacement pulls many images at once, pulls fail with " +
			"429 Too Many Requests and pods stay in ImagePullBackOff until the window resets.",
		Remediation: "Create a docker-registry Secret with a Docker Hub account's access token and add it to the " +
			"ServiceAccount's imagePullSecrets, or pull through a mirror or your own registry.",
		References: []string{"https://docs.docker.com/docker-hub/usage/",
			"https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#add-imagepullsecrets-to-a-service-account"},
	}
}

func (c PullRateLimited) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	accounts := map[snapshot.Ref]*corev1.ServiceAccount{}
	for i := range s.ServiceAccounts {
		sa := &s.ServiceAccounts[i]
		accounts[snapshot.RefTo(snapshot.KindServiceAccounts, sa.Namespace, sa.Name)] = sa
	}
	type hit struct {
		w      snapshot.Workload
		images []string
	}
	var groups check.Groups[snapshot.Ref, hit]
	for _, w := range s.Workloads() {
		if len(w.Spec.ImagePullSecrets) > 0 {
			continue
		}
		var images []string
		for _, ct := range containersOf(w.Spec, specPath(w.Ref)) {
			if im, ok := parseImage(ct.c.Image); ok && reference.Domain(im.named) == rateLimitedRegistry && !slices.Contains(images, ct.c.Image) {
				images = append(images, ct.c.Image)
			}
		}
		if len(images) == 0 {
			continue
		}
		name := w.Spec.ServiceAccountName
		if name == "" {
			name = w.Spec.DeprecatedServiceAccount
		}
		if name == "" {
			name = "default"
		}
		saRef := snapshot.RefTo(snapshot.KindServiceAccounts, w.Ref.Namespace, name)
		sa, known := accounts[saRef]
		switch {
		case known && len(sa.ImagePullSecrets) > 0:
			continue
		case !known && s.Source == snapshot.SourceManifests && name != "default":
			continue // defined in the cluster, where it may carry credentials
		}
		groups.Add(saRef, hit{w, images})
	}
	var findings []check.Finding
	for _, saRef := range groups.Keys() {
		hits := groups.Get(saRef)
		refs := make([]snapshot.Ref, 0, len(hits)+1)
		for _, h := range hits {
			refs = append(refs, h.w.Ref)
		}
		f := check.New(meta, fmt.Sprintf("%s %s from Docker Hub without credentials (serviceaccount %s adds no imagePullSecrets): "+
			"anonymous pulls are rate-limited, and a busy rollout or node replacement can stall in ImagePullBackOff",
			check.Plural(len(hits), "workload pulls", "workloads pull"), check.PluralForm(len(hits), "its images", "their images"), saRef.Name),
			append(refs, saRef)...)
		f.Evidence = check.EvidenceOf(len(hits), func(i int) string {
			return fmt.Sprintf("%s: %s", hits[i].w.Ref.Describe(), strings.Join(hits[i].images, ", "))
		})
		ns := check.Quote(saRef.Namespace)
		f.Fix = []string{
			// Secrets are never read, so the command to create one is advice, not a checked command.
			check.Comment(fmt.Sprintf("first: kubectl create secret docker-registry -n %s dockerhub --docker-server=https://index.docker.io/v1/ "+
				"--docker-username=DOCKERHUB_USER --docker-password=DOCKERHUB_TOKEN (an access token of a Docker Hub account)", ns)),
			fmt.Sprintf(`kubectl patch %s --type=merge -p '{"imagePullSecrets":[{"name":"dockerhub"}]}'`, check.InNamespace(saRef)),
		}
		findings = append(findings, f)
	}
	return findings
}
