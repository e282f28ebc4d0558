package apiserver

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// endOfLife is the upstream end of support of each minor release (kubernetes.io/releases).
// Releases older than the table are past it; newer ones are too new for this build to judge.
func endOfLife() map[int]time.Time {
	day := func(s string) time.Time {
		t, _ := time.Parse("2006-01-02", s)
		return t
	}
	return map[int]time.Time{
		30: day("2025-07-15"),
		31: day("2025-10-28"),
		32: day("2026-02-28"),
		33: day("2026-06-28"),
		34: day("2026-10-27"),
		35: day("2027-02-28"),
		36: day("2027-06-28"),
		37: day("2027-10-28"),
	}
}

// eolWarning is how long before the end of support the check starts to remind.
const eolWarning = 90 * 24 * time.Hour

// maxKubeletSkew is how many minor versions a kubelet may lag the API server (since 1.28).
const maxKubeletSkew = 3

// minorOf reads the minor version from "v1.37.2", "v1.30.4-eks-1234" or "1.29".
func minorOf(version string) (int, bool) {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	digits := strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// VersionSupport reports an API server past or near its end of upstream support.
type VersionSupport struct{}

func (VersionSupport) Meta() check.Meta {
	return check.Meta{
		ID:       "apiserver-version-support",
		Title:    "The Kubernetes version is out of upstream support",
		Category: check.CategoryAPIServer,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindServerVersion},
		LiveOnly: true,
		Description: "Compares the API server's version with the upstream end-of-life dates of each minor release, " +
			"kept in a table in the code (1.30 to 1.37). High once past, low within 90 days of it. Managed providers " +
			"support some versions longer; their own calendar then decides.",
		Why:         "Past its end of life a release gets no security fixes: known vulnerabilities in the API server and kubelets stay open.",
		Remediation: "Plan the upgrade one minor version at a time (control plane first, then nodes).",
		References:  []string{"https://kubernetes.io/releases/", "https://kubernetes.io/releases/version-skew-policy/"},
	}
}

func (c VersionSupport) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	minor, ok := minorOf(s.ServerVersion)
	if !ok {
		return nil
	}
	table := endOfLife()
	oldest := 30
	eol, known := table[minor]
	now := s.CollectedAt
	var f check.Finding
	switch {
	case minor < oldest:
		f = check.New(meta, fmt.Sprintf("Kubernetes %s is past its end of life (1.%d ended before %s)", s.ServerVersion, minor, table[oldest].Format("2006-01-02")))
	case !known:
		return nil // newer than this build knows
	case now.After(eol):
		f = check.New(meta, fmt.Sprintf("Kubernetes %s reached its end of life on %s", s.ServerVersion, eol.Format("2006-01-02")))
	case eol.Sub(now) < eolWarning:
		f = check.New(meta, fmt.Sprintf("Kubernetes %s reaches its end of life on %s", s.ServerVersion, eol.Format("2006-01-02")))
		f.Severity = check.Low
	default:
		return nil
	}
	f.Scope = check.ScopeCluster
	f.Evidence = []string{fmt.Sprintf("API server version %s", s.ServerVersion)}
	f.Fix = []string{fmt.Sprintf("# upgrade the control plane to 1.%d, then the nodes (kubeadm upgrade plan, or your provider's upgrade)", minor+1)}
	return []check.Finding{f}
}

// KubeletSkew finds kubelets outside the supported version skew from the API server.
type KubeletSkew struct{}

func (KubeletSkew) Meta() check.Meta {
	return check.Meta{
		ID:       "kubelet-version-skew",
		Title:    "Kubelets are outside the supported version skew",
		Category: check.CategoryAPIServer,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindNodes, snapshot.KindServerVersion},
		LiveOnly: true,
		Description: fmt.Sprintf("Compares each node's kubelet version with the API server's: a kubelet may be up to %d "+
			"minor versions older, never newer.", maxKubeletSkew),
		Why: "Outside the skew policy, kubelets and the API server are not tested together: features break silently " +
			"and the next control-plane upgrade may leave those nodes unable to work.",
		Remediation: "Upgrade (or, for newer kubelets, replace) the listed nodes' kubelets; drain them first.",
		References:  []string{"https://kubernetes.io/releases/version-skew-policy/#kubelet"},
	}
}

func (c KubeletSkew) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	server, ok := minorOf(s.ServerVersion)
	if !ok {
		return nil
	}
	var refs []snapshot.Ref
	var evidence []string
	for i := range s.Nodes {
		node := &s.Nodes[i]
		kubelet, ok := minorOf(node.Status.NodeInfo.KubeletVersion)
		if !ok {
			continue
		}
		switch {
		case kubelet > server:
			evidence = append(evidence, fmt.Sprintf("node %s: kubelet %s is newer than the API server %s", node.Name, node.Status.NodeInfo.KubeletVersion, s.ServerVersion))
		case server-kubelet > maxKubeletSkew:
			evidence = append(evidence, fmt.Sprintf("node %s: kubelet %s is %d minor versions behind the API server %s", node.Name,
				node.Status.NodeInfo.KubeletVersion, server-kubelet, s.ServerVersion))
		default:
			continue
		}
		refs = append(refs, snapshot.RefTo(snapshot.KindNodes, "", node.Name))
	}
	if len(refs) == 0 {
		return nil
	}
	f := check.New(meta, fmt.Sprintf("%s outside the supported kubelet skew", check.Plural(len(refs), "node runs a kubelet", "nodes run kubelets")), refs...)
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = check.FixEach(len(refs), "nodes", func(i int) string {
		return fmt.Sprintf("kubectl drain %s --ignore-daemonsets   # then upgrade an old kubelet (or, for one newer than the API server, "+
			"upgrade the control plane first or replace the node), and kubectl uncordon", check.Quote(refs[i].Name))
	})
	return []check.Finding{f}
}
