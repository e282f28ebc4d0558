package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// PendingNodeCSRs reports kubelets' certificate requests that nobody approves.
type PendingNodeCSRs struct{}

// csrPatience is how long a kubelet's request may wait: approvers answer within seconds.
const csrPatience = 10 * time.Minute

func (PendingNodeCSRs) Meta() check.Meta {
	return check.Meta{
		ID:       "certificates-csr-pending",
		Title:    "Kubelets' certificate signing requests are not being approved",
		Category: check.CategoryCertificates,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindCertificateSigningRequests},
		LiveOnly: true,
		Description: "Lists CertificateSigningRequests for the kubelet signers (kubernetes.io/kube-apiserver-client-kubelet, " +
			"kubernetes.io/kubelet-serving) that are neither approved nor denied more than 10 minutes after they were " +
			"made, and names the nodes that asked (the request's subject, else its requester).",
		Why: "A kubelet renews its client certificate through such a request: unanswered, the node cannot join, or falls " +
			"off the cluster (NotReady) when its current certificate expires. Unanswered serving requests leave kubectl " +
			"logs, exec and metrics-server unable to reach the kubelet.",
		Remediation: "Approve the requests after checking each comes from the node it names, and fix the approver: the " +
			"controller manager approves client requests when the nodeclient and selfnodeclient ClusterRoles are bound to " +
			"system:bootstrappers and system:nodes; nothing built in approves kubelet-serving requests.",
		References: []string{
			"https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/",
			"https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/",
		},
	}
}

func (c PendingNodeCSRs) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	bySigner := map[string][]*certificatesv1.CertificateSigningRequest{}
	for i := range s.CertificateSigningRequests {
		csr := &s.CertificateSigningRequests[i]
		if (csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName && csr.Spec.SignerName != certificatesv1.KubeletServingSignerName) ||
			answered(csr) || s.CollectedAt.Sub(csr.CreationTimestamp.Time) < csrPatience {
			continue
		}
		bySigner[csr.Spec.SignerName] = append(bySigner[csr.Spec.SignerName], csr)
	}
	var findings []check.Finding
	for _, signer := range []string{certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName} {
		pending := bySigner[signer]
		if len(pending) == 0 {
			continue
		}
		what, consequence, approver := "client", "the nodes cannot join, or fall off the cluster when their current client certificate expires",
			"kube-controller-manager's csrapproving controller approves these when the ClusterRoles system:certificates.k8s.io:"+
				"certificatesigningrequests:nodeclient and :selfnodeclient are bound to system:bootstrappers and system:nodes: check those bindings and that the controller manager runs"
		if signer == certificatesv1.KubeletServingSignerName {
			what, consequence, approver = "serving", "kubectl logs, exec and metrics-server cannot verify these kubelets",
				"nothing built into Kubernetes approves kubelet-serving requests: run an approver that checks the requested names, or approve by hand"
		}
		var refs []snapshot.Ref
		var nodes, evidence []string
		var created []time.Time
		for _, csr := range pending {
			node := requestingNode(csr)
			refs = append(refs, snapshot.RefTo(snapshot.KindCertificateSigningRequests, "", csr.Name))
			nodes = append(nodes, node)
			created = append(created, csr.CreationTimestamp.Time)
			evidence = append(evidence, fmt.Sprintf("csr %s: node %s, requested by %s, pending for %s", csr.Name, node, csr.Spec.Username,
				check.Age(csr.CreationTimestamp.Time, s.CollectedAt)))
		}
		f := check.New(meta, fmt.Sprintf("%s for kubelet %s certificates %s waited over 10m unanswered (%s): %s",
			check.Plural(len(pending), "request", "requests"), what, check.PluralForm(len(pending), "has", "have"),
			"nodes "+strings.Join(sortedUnique(nodes), ", "), consequence), refs...)
		f.Incident = true
		f.Scope = check.ScopeCluster
		f.Since = check.Earliest(created...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = append([]string{"kubectl get csr --sort-by=.metadata.creationTimestamp"},
			check.FixEach(len(pending), "requests", func(i int) string {
				return fmt.Sprintf("kubectl certificate approve %s   # only after checking that node %s asked for it (spec.username %s)",
					check.Quote(pending[i].Name), check.OneLine(nodes[i], 253), check.OneLine(pending[i].Spec.Username, 253))
			})...)
		f.Fix = append(f.Fix, check.Comment(approver))
		findings = append(findings, f)
	}
	return findings
}

// answered tells a request that has been approved, denied or has failed.
func answered(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return true
		}
	}
	return false
}

// requestingNode names the node a request is for: the subject it asks for (system:node:NAME),
// which a bootstrapping kubelet also sets, else the identity that made it.
func requestingNode(csr *certificatesv1.CertificateSigningRequest) string {
	if block, _ := pem.Decode(csr.Spec.Request); block != nil {
		if req, err := x509.ParseCertificateRequest(block.Bytes); err == nil {
			if name, ok := strings.CutPrefix(req.Subject.CommonName, "system:node:"); ok && name != "" {
				return name
			}
		}
	}
	if name, ok := strings.CutPrefix(csr.Spec.Username, "system:node:"); ok && name != "" {
		return name
	}
	return "(unknown: requested by " + csr.Spec.Username + ")"
}

// sortedUnique is each of names once, sorted.
func sortedUnique(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
