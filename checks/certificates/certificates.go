// Package certificates judges certificates the cluster depends on: the API server's serving
// certificate, the CA bundles the API server verifies webhooks and aggregated APIs with,
// cert-manager's Certificates, and the kubelets' certificate signing requests.
package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Checks lists the family's checks.
func Checks() []check.Check {
	return []check.Check{APIServerCertificate{}, WebhookCABundle{}, APIServiceCABundle{}, CertManager{}, PendingNodeCSRs{}}
}

// A certificate is critical once it expires within criticalWithin, and reported (high) within
// warnWithin: a month leaves time to renew by hand; a week does not leave much.
const (
	criticalWithin = 7 * 24 * time.Hour
	warnWithin     = 30 * 24 * time.Hour
)

// expiry is a certificate's standing at the time the snapshot was read.
type expiry struct {
	severity check.Severity
	// broken: clients reject the certificate now (expired, or not yet valid).
	broken bool
	// text reads "expired 3d ago (on 2026-11-21 10:00 UTC)" or "expires in 5d (on ...)".
	text string
}

// judge grades a certificate's validity at now; ok is false when it is valid for longer than
// warnWithin.
func judge(notBefore, notAfter, now time.Time) (e expiry, ok bool) {
	on := " (" + notAfter.UTC().Format("2006-01-02 15:04 UTC") + ")"
	left := notAfter.Sub(now)
	switch {
	case !notBefore.IsZero() && now.Before(notBefore):
		return expiry{severity: check.Critical, broken: true, text: "is not valid before " +
			notBefore.UTC().Format("2006-01-02 15:04 UTC") + " (a clock set wrong, or issued ahead)"}, true
	case left <= 0:
		return expiry{severity: check.Critical, broken: true, text: "expired " + duration.HumanDuration(-left) + " ago" + on}, true
	case left <= criticalWithin:
		return expiry{severity: check.Critical, text: "expires in " + duration.HumanDuration(left) + on}, true
	case left <= warnWithin:
		return expiry{severity: check.High, text: "expires in " + duration.HumanDuration(left) + on}, true
	}
	return expiry{}, false
}

// describe names a certificate by its subject, else by its first DNS name.
func describe(c snapshot.CertificateInfo) string {
	switch {
	case c.Subject != "":
		return c.Subject
	case len(c.DNSNames) > 0:
		return "DNS:" + c.DNSNames[0]
	}
	return "(no subject)"
}

// parseBundle reads the certificates of a PEM CA bundle the way the API server's clients load
// one (x509.CertPool.AppendCertsFromPEM): blocks that are not certificates, or do not parse,
// are skipped; a bundle with no certificate at all is an error.
func parseBundle(bundle []byte) ([]snapshot.CertificateInfo, error) {
	var out []snapshot.CertificateInfo
	skipped := 0
	for rest := bundle; len(rest) > 0; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			skipped++
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			skipped++
			continue
		}
		out = append(out, snapshot.CertificateInfoOf(c, false))
	}
	if len(out) == 0 {
		if skipped > 0 {
			return nil, fmt.Errorf("none of its %d PEM blocks is a certificate that parses", skipped)
		}
		return nil, errors.New("it holds no PEM certificate")
	}
	return out, nil
}

// bundleStanding judges a CA bundle as a whole: a server certificate verifies while any CA of
// the bundle that signed it is valid, and bundles carry the next CA beside the current one
// while it is rotated, so the bundle stands or falls with its longest-lived certificate. The
// evidence lists each certificate.
func bundleStanding(bundle []byte, now time.Time) (e expiry, evidence []string, ok bool) {
	certs, err := parseBundle(bundle)
	if err != nil {
		return expiry{severity: check.Critical, broken: true, text: "cannot be read: " + err.Error()}, nil, true
	}
	latest := certs[0]
	for _, c := range certs {
		evidence = append(evidence, fmt.Sprintf("CA %s: valid %s to %s", describe(c),
			c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02 15:04 UTC")))
		if c.NotAfter.After(latest.NotAfter.Time) {
			latest = c
		}
	}
	e, ok = judge(latest.NotBefore.Time, latest.NotAfter.Time, now)
	if ok && len(certs) > 1 {
		e.text = fmt.Sprintf("(the longest-lived of its %d certificates, %s) %s", len(certs), describe(latest), e.text)
	}
	return e, evidence, ok
}
