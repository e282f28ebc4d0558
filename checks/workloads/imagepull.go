package workloads

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// ImagePull finds containers that cannot get their image.
type ImagePull struct{}

func (ImagePull) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-image-pull",
		Title:    "Containers cannot pull their image",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: podKinds(),
		// Deployments and their ReplicaSets tell when the rollout is what fails (exactRollback).
		Optional: append(ownerKinds(), snapshot.KindDeployments),
		LiveOnly: true,
		Description: "Looks for containers waiting in ImagePullBackOff, ErrImagePull, InvalidImageName or ErrImageNeverPull, " +
			"with the image and the kubelet's message, quoting the registry's answer from the newest Failed event.",
		Why: "The pod never starts. After a deploy this usually means a mistyped tag, an image that was never pushed, " +
			"or a private registry without pull credentials; the old replicas keep serving only until they are replaced.",
		Remediation: "Check that the image reference exists (registry, repository, tag or digest). For a private registry, " +
			"add an imagePullSecret to the pod spec or its service account. Then set the correct image on the workload.",
		Links: []check.Link{PodFailureLink()},
		References: []string{
			"https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff",
			"https://kubernetes.io/docs/tasks/configure-pod-container/pull-image-private-registry/",
		},
	}
}

func (c ImagePull) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	groups := byOwner(s, waitingContainers(s, "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"))
	for _, owner := range groups.Keys() {
		problems := groups.Get(owner)
		pods := distinctPods(problems)
		images := map[string]bool{}
		var evidence []string
		var since []time.Time
		for _, p := range problems {
			image := p.image
			if image == "" {
				image = specImage(p)
			}
			images[image] = true
			line := fmt.Sprintf("pod %s container %s: %s for image %q", p.pod.Name, p.container, p.status.State.Waiting.Reason, image)
			if t := snapshot.NotReadySince(p.pod); !t.IsZero() {
				line += " (pod not ready " + check.For(t, s.CollectedAt) + ")"
			}
			evidence = append(evidence, line+": "+p.status.State.Waiting.Message)
			since = append(since, failingSince(p))
		}
		imageList := slices.Sorted(maps.Keys(images))
		f := check.New(meta, fmt.Sprintf("%s of %s cannot pull image %s", check.Plural(len(pods), "pod", "pods"),
			owner.Describe(), quoteJoin(imageList)), owner)
		f.Incident = true
		f.Evidence = withEvent(check.LimitEvidence(evidence), eventEvidence(s, podObjects(pods), failedPull, reasons("Failed", "BackOff")))
		f.Since = check.Earliest(since...)
		f.Fix = describePods(pods)
		if hasEditableTemplate(owner) {
			// NEW_IMAGE is for the reader to fill in: an image that exists, registry/repository:tag.
			f.Fix = append(f.Fix, perContainer(problems, func(p containerProblem) string {
				return fmt.Sprintf("kubectl set image %s %s=NEW_IMAGE   # NEW_IMAGE: an image that exists (registry/repository:tag)",
					check.InNamespace(owner), check.Quote(p.container))
			})...)
		}
		if undo, ok := exactRollback(s, owner, pods); ok {
			f.Fix = append(f.Fix, undo)
		}
		findings = append(findings, f)
	}
	return findings
}

// specImage falls back to the pod spec when the status does not name the image yet.
func specImage(p containerProblem) string {
	for _, c := range append(append(p.pod.Spec.InitContainers[:0:0], p.pod.Spec.InitContainers...), p.pod.Spec.Containers...) {
		if c.Name == p.container {
			return c.Image
		}
	}
	return ""
}

func quoteJoin(values []string) string {
	out := ""
	for i, v := range values {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", v)
	}
	return out
}
