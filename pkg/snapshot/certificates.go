package snapshot

import (
	"crypto/x509"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServingCertificate is what the API server presented in the TLS handshake of the run's own
// connection: the certificates of its chain, never a key.
type ServingCertificate struct {
	// Chain is the peer's certificates as sent, the leaf first.
	Chain []CertificateInfo `json:"chain"`
	// Proxy is the proxy the connection went through, if any; a proxy that terminates TLS
	// presents its own certificate.
	Proxy string `json:"proxy,omitempty"`
}

// Times are metav1.Time, as in objects: written to the second, and compared as such.

// CertificateInfo is the public part of one X.509 certificate that the checks judge.
type CertificateInfo struct {
	Subject     string      `json:"subject"`
	Issuer      string      `json:"issuer"`
	NotBefore   metav1.Time `json:"notBefore"`
	NotAfter    metav1.Time `json:"notAfter"`
	DNSNames    []string    `json:"dnsNames,omitempty"`
	IPAddresses []string    `json:"ipAddresses,omitempty"`
	// Leaf marks the certificate of the server itself, as opposed to an intermediate CA.
	Leaf bool `json:"leaf,omitempty"`
	IsCA bool `json:"isCA,omitempty"`
}

// CertManagerCertificate is the part of a cert-manager Certificate (cert-manager.io/v1) the
// checks read: where it is, what it writes to, and its status. Its Secret is never read.
type CertManagerCertificate struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	SecretName string `json:"secretName,omitempty"`
	// Issuer is "Kind/name" of spec.issuerRef.
	Issuer     string                 `json:"issuer,omitempty"`
	DNSNames   []string               `json:"dnsNames,omitempty"`
	Conditions []CertManagerCondition `json:"conditions,omitempty"`
	NotAfter   *metav1.Time           `json:"notAfter,omitempty"`
	// RenewalTime is when cert-manager means to renew the certificate.
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`
	// FailedIssuanceAttempts counts the issuances that failed since the last success.
	FailedIssuanceAttempts int          `json:"failedIssuanceAttempts,omitempty"`
	LastFailureTime        *metav1.Time `json:"lastFailureTime,omitempty"`
}

// CertManagerCondition is one of a Certificate's status conditions (Ready, Issuing).
type CertManagerCondition struct {
	Type               string       `json:"type"`
	Status             string       `json:"status"`
	Reason             string       `json:"reason,omitempty"`
	Message            string       `json:"message,omitempty"`
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// Condition returns the condition of type typ, if the Certificate has one.
func (c CertManagerCertificate) Condition(typ string) (CertManagerCondition, bool) {
	for _, cond := range c.Conditions {
		if cond.Type == typ {
			return cond, true
		}
	}
	return CertManagerCondition{}, false
}

// CertificateInfoOf is the public part of c the checks read; leaf marks a server's own.
func CertificateInfoOf(c *x509.Certificate, leaf bool) CertificateInfo {
	info := CertificateInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		NotBefore: metav1.NewTime(c.NotBefore.UTC()), NotAfter: metav1.NewTime(c.NotAfter.UTC()), DNSNames: c.DNSNames, Leaf: leaf, IsCA: c.IsCA}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	return info
}
