package certificates

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// APIServerCertificate judges the certificate chain the API server presented to this run.
type APIServerCertificate struct{}

func (APIServerCertificate) Meta() check.Meta {
	return check.Meta{
		ID:       "certificates-apiserver-expiry",
		Title:    "The API server's serving certificate expires soon",
		Category: check.CategoryCertificates,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindServingCertificate},
		LiveOnly: true,
		Description: "Reads the certificates the API server presents in the TLS handshake of the run's own connection (no " +
			"permission is needed) and reports each of the chain that has expired, is not valid yet, or expires within " +
			"30 days: critical within 7, high within 30. Through a proxy that ends TLS, the certificate is the proxy's.",
		Why: "When the serving certificate expires, every client that verifies it (kubectl, kubelets, controllers, " +
			"operators) fails its TLS handshake: nodes go NotReady and the cluster cannot be managed.",
		Remediation: "Renew the certificate before it expires: kubeadm certs renew apiserver on each control-plane node " +
			"(then restart the API server), your PKI's rotation, or the provider's credential rotation on a managed cluster.",
		References: []string{
			"https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/",
			"https://kubernetes.io/docs/setup/best-practices/certificates/",
		},
	}
}

// NotEvaluable: without TLS there is no certificate to read.
func (APIServerCertificate) NotEvaluable(s *snapshot.Snapshot) string {
	if strings.HasPrefix(s.Server, "http://") {
		return "the server URL is plain HTTP (kubectl proxy?): there is no TLS handshake to read the API server's certificate from"
	}
	return ""
}

func (c APIServerCertificate) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	served := s.ServingCertificate
	if served == nil {
		return nil
	}
	var findings []check.Finding
	for _, cert := range served.Chain {
		// Not its start: a certificate not valid yet fails the run's own handshake, so one read
		// is valid, and a start after the time of reading says only that clocks differ.
		e, ok := judge(time.Time{}, cert.NotAfter.Time, s.CollectedAt)
		if !ok {
			continue
		}
		role := "intermediate CA certificate"
		if cert.Leaf {
			role = "serving certificate"
		}
		f := check.New(meta, fmt.Sprintf("the API server's %s %s %s", role, describe(cert), e.text))
		f.Severity = e.severity
		f.Incident = e.broken
		f.Scope = check.ScopeCluster
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s: subject %s, issuer %s, valid %s to %s", role, describe(cert), cert.Issuer,
			cert.NotBefore.Format("2006-01-02 15:04 UTC"), cert.NotAfter.Format("2006-01-02 15:04 UTC")))
		if names := append(append([]string{}, cert.DNSNames...), cert.IPAddresses...); len(names) > 0 {
			f.Evidence = append(f.Evidence, "names: "+strings.Join(names, ", "))
		}
		f.Evidence = append(f.Evidence, proxyNotes(s)...)
		f.Evidence = check.LimitEvidence(f.Evidence)
		if e.broken {
			f.Since = check.Earliest(cert.NotAfter.Time)
		}
		f.Fix = []string{
			check.Comment("on each control-plane node of a kubeadm cluster: kubeadm certs check-expiration, then kubeadm certs renew apiserver and restart the API server"),
			check.Comment("on a managed cluster, rotate the control plane's certificates with the provider's tooling"),
			check.Comment("to see the date the server presents now: openssl s_client -connect " + hostPort(s) +
				" </dev/null | openssl x509 -noout -subject -enddate"),
		}
		findings = append(findings, f)
	}
	return findings
}

// proxyNotes say when the certificate read may be a proxy's rather than the API server's.
func proxyNotes(s *snapshot.Snapshot) []string {
	var notes []string
	if p := s.ServingCertificate.Proxy; p != "" {
		notes = append(notes, "the connection went through the proxy "+p+": if it ends TLS, this certificate is the proxy's")
	}
	if u, err := url.Parse(s.Server); err == nil && strings.Trim(u.Path, "/") != "" {
		notes = append(notes, "the server URL has a path ("+u.Path+"): an authenticating proxy in front of the API server, whose certificate this may be")
	}
	return notes
}

// hostPort is the API server's address as the run reached it, or a placeholder to fill in.
func hostPort(s *snapshot.Snapshot) string {
	u, err := url.Parse(s.Server)
	if err != nil || u.Host == "" {
		return "HOST:PORT"
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return u.Host
}
