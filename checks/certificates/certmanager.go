package certificates

import (
	"fmt"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// CertManager judges cert-manager's Certificates: not Ready, or near their end with renewal
// failing.
type CertManager struct{}

// issuingGrace is how long a Certificate may be not Ready without a failure before it is
// reported: a first issuance (an ACME order, say) takes minutes.
const issuingGrace = 10 * time.Minute

func (CertManager) Meta() check.Meta {
	return check.Meta{
		ID:       "certificates-cert-manager",
		Title:    "A cert-manager Certificate is not Ready or is not being renewed",
		Category: check.CategoryCertificates,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindCertManagerCertificates},
		LiveOnly: true,
		Description: "Reads cert-manager's Certificates (cert-manager.io/v1) where the CRD is served, never their Secrets, " +
			"and reports one not Ready for over 10 minutes (or at once when issuance has failed), and one whose notAfter " +
			"is within 30 days while renewal fails (failed issuance attempts, a failure time, or a renewalTime gone by). " +
			"Critical once expired or within 7 days of it, high otherwise. Not applicable where cert-manager is not installed.",
		Why: "A Certificate that cert-manager cannot issue or renew keeps the old certificate in its Secret until it " +
			"expires; then the Ingresses, webhooks and services that serve it fail their TLS handshakes.",
		Remediation: "Read the Certificate's conditions and its latest CertificateRequest to see why issuance fails (issuer " +
			"not ready, ACME challenge failing, quota), fix the cause, then let cert-manager retry or trigger a renewal " +
			"(cmctl renew).",
		References: []string{
			"https://cert-manager.io/docs/troubleshooting/",
			"https://cert-manager.io/docs/usage/certificate/",
		},
	}
}

func (c CertManager) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	now := s.CollectedAt
	var findings []check.Finding
	for _, cert := range s.CertManagerCertificates {
		ready, hasReady := cert.Condition("Ready")
		notReady := !hasReady || ready.Status != "True"
		failing := cert.FailedIssuanceAttempts > 0 || cert.LastFailureTime != nil
		renewalOverdue := cert.RenewalTime != nil && cert.RenewalTime.Time.Before(now)
		var e expiry
		dated := false
		if cert.NotAfter != nil {
			e, dated = judge(time.Time{}, cert.NotAfter.Time, now)
		}
		var message string
		severity := check.High
		switch {
		case dated && e.broken:
			message = "the certificate " + e.text
		case notReady && !failing && hasReady && ready.LastTransitionTime != nil && now.Sub(ready.LastTransitionTime.Time) < issuingGrace:
			continue // being issued
		case notReady:
			message = "is not Ready"
			if hasReady && ready.Reason != "" {
				message += " (" + ready.Reason + ")"
			}
			if dated {
				message += " and the certificate " + e.text
			}
		case dated && (failing || renewalOverdue):
			message = "is not being renewed and the certificate " + e.text
		default:
			continue
		}
		if dated {
			severity = e.severity
		}
		ref := snapshot.Ref{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Namespace: cert.Namespace, Name: cert.Name}
		f := check.New(meta, fmt.Sprintf("certificate %s/%s %s", cert.Namespace, cert.Name, message), ref)
		f.Severity = severity
		f.Incident = notReady || (dated && e.broken)
		f.Scope = check.ScopeNamespace
		f.Evidence = certManagerEvidence(cert, now)
		if notReady && hasReady && ready.LastTransitionTime != nil {
			f.Since = check.Earliest(ready.LastTransitionTime.Time)
		}
		where := "-n " + check.Quote(cert.Namespace)
		f.Fix = []string{
			fmt.Sprintf("kubectl describe certificates.cert-manager.io %s %s   # conditions and events", where, check.Quote(cert.Name)),
			fmt.Sprintf("kubectl get certificaterequests.cert-manager.io %s -o wide   # the latest request and why it failed", where),
		}
		if cert.Issuer != "" {
			f.Fix = append(f.Fix, check.Comment("check the issuer "+cert.Issuer+" is Ready (kubectl describe on it), then trigger a renewal: cmctl renew -n "+
				cert.Namespace+" "+cert.Name))
		}
		findings = append(findings, f)
	}
	return findings
}

func certManagerEvidence(cert snapshot.CertManagerCertificate, now time.Time) []string {
	var lines []string
	for _, cond := range cert.Conditions {
		line := fmt.Sprintf("condition %s=%s", cond.Type, cond.Status)
		if cond.Reason != "" {
			line += " (" + cond.Reason + ")"
		}
		if cond.Message != "" {
			line += ": " + cond.Message
		}
		if cond.LastTransitionTime != nil {
			line += ", " + check.Ago(cond.LastTransitionTime.Time, now)
		}
		lines = append(lines, line)
	}
	if len(cert.Conditions) == 0 {
		lines = append(lines, "no status conditions: cert-manager has not processed it (is cert-manager running?)")
	}
	if cert.NotAfter != nil {
		lines = append(lines, "notAfter "+cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.RenewalTime != nil {
		line := "renewalTime " + cert.RenewalTime.UTC().Format(time.RFC3339)
		if cert.RenewalTime.Time.Before(now) {
			line += " (passed " + check.Ago(cert.RenewalTime.Time, now) + ")"
		}
		lines = append(lines, line)
	}
	if cert.FailedIssuanceAttempts > 0 {
		lines = append(lines, fmt.Sprintf("%d failed issuance %s", cert.FailedIssuanceAttempts, check.PluralForm(cert.FailedIssuanceAttempts, "attempt", "attempts")))
	}
	if cert.LastFailureTime != nil {
		lines = append(lines, "last failure "+check.Ago(cert.LastFailureTime.Time, now))
	}
	if cert.Issuer != "" {
		lines = append(lines, "issuer "+cert.Issuer)
	}
	if cert.SecretName != "" {
		lines = append(lines, "stored in Secret "+cert.SecretName+" (not read)")
	}
	return check.LimitEvidence(lines)
}
