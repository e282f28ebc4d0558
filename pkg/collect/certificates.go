package collect

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// servingCertProbe reads the API server's certificate chain from the TLS handshake of a GET
// /version, the request every run makes first: no permission beyond it is needed.
type servingCertProbe struct {
	client rest.Interface
	host   string
	proxy  func(*http.Request) (*url.URL, error)
	seen   *peerChain
}

// peerChain keeps the peer certificates of the first TLS answer its transport sees.
type peerChain struct {
	mu    sync.Mutex
	certs []*x509.Certificate
	tls   bool
	done  bool
}

type chainRecorder struct {
	next http.RoundTripper
	seen *peerChain
}

func (r chainRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.seen.mu.Lock()
		if !r.seen.done {
			r.seen.done = true
			if resp.TLS != nil {
				r.seen.tls = true
				r.seen.certs = resp.TLS.PeerCertificates
			}
		}
		r.seen.mu.Unlock()
	}
	return resp, err
}

// newServingCertProbe builds the probe's client: config's own, so the handshake is the one
// every other request makes (same CA, same proxy, same credentials), with a recorder around
// its transport.
func newServingCertProbe(config *rest.Config) (*servingCertProbe, error) {
	seen := &peerChain{}
	probeConfig := rest.CopyConfig(config)
	wrap := probeConfig.WrapTransport
	probeConfig.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		return chainRecorder{next: rt, seen: seen}
	}
	client, err := kubernetes.NewForConfig(probeConfig)
	if err != nil {
		return nil, err
	}
	return &servingCertProbe{client: client.Discovery().RESTClient(), host: config.Host, proxy: config.Proxy, seen: seen}, nil
}

// read makes the request and returns the chain it saw; a plain-HTTP connection is a blindError.
func (p *servingCertProbe) read(ctx context.Context) (*snapshot.ServingCertificate, error) {
	if p == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serving certificate"}, "")
	}
	if err := p.client.Get().AbsPath("/version").Do(ctx).Error(); err != nil && !isAPIStatus(err) {
		return nil, err
	}
	p.seen.mu.Lock()
	defer p.seen.mu.Unlock()
	if !p.seen.done || !p.seen.tls {
		return nil, &blindError{reason: "the server URL is plain HTTP (kubectl proxy?): there is no TLS handshake to read the " +
			"API server's certificate from; run against the API server's https:// URL"}
	}
	out := &snapshot.ServingCertificate{Proxy: p.proxyFor()}
	for i, c := range p.seen.certs {
		out.Chain = append(out.Chain, snapshot.CertificateInfoOf(c, i == 0))
	}
	return out, nil
}

// proxyFor names the proxy the connection went through, as the client's configuration (or,
// without one, the environment) chooses it.
func (p *servingCertProbe) proxyFor() string {
	choose := p.proxy
	if choose == nil {
		choose = http.ProxyFromEnvironment
	}
	u, err := url.Parse(p.host)
	if err != nil {
		return ""
	}
	proxy, err := choose(&http.Request{URL: u})
	if err != nil || proxy == nil {
		return ""
	}
	return proxy.Redacted()
}

func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// certManagerList is the part of a cert-manager CertificateList the checks read.
type certManagerList struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []struct {
		Metadata struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			SecretName string   `json:"secretName"`
			DNSNames   []string `json:"dnsNames"`
			IssuerRef  struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"issuerRef"`
		} `json:"spec"`
		Status struct {
			Conditions             []snapshot.CertManagerCondition `json:"conditions"`
			NotAfter               *metav1.Time                    `json:"notAfter"`
			RenewalTime            *metav1.Time                    `json:"renewalTime"`
			FailedIssuanceAttempts int                             `json:"failedIssuanceAttempts"`
			LastFailureTime        *metav1.Time                    `json:"lastFailureTime"`
		} `json:"status"`
	} `json:"items"`
}

// listCertManagerCertificates reads cert-manager's Certificates as JSON, page by page, into
// the few fields the checks judge. Where the CRD is not served the server answers 404.
func listCertManagerCertificates(ctx context.Context, client rest.Interface, namespace string, chunk int64) ([]snapshot.CertManagerCertificate, error) {
	if client == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: "cert-manager.io", Resource: "certificates"}, "")
	}
	path := "/apis/cert-manager.io/v1/certificates"
	if namespace != "" {
		path = "/apis/cert-manager.io/v1/namespaces/" + url.PathEscape(namespace) + "/certificates"
	}
	var out []snapshot.CertManagerCertificate
	next := ""
	for {
		req := client.Get().AbsPath(path)
		if chunk > 0 {
			req = req.Param("limit", strconv.FormatInt(chunk, 10))
		}
		if next != "" {
			req = req.Param("continue", next)
		}
		body, err := req.Do(ctx).Raw()
		if err != nil {
			return nil, err
		}
		var page certManagerList
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			c := snapshot.CertManagerCertificate{Namespace: item.Metadata.Namespace, Name: item.Metadata.Name,
				SecretName: item.Spec.SecretName, DNSNames: item.Spec.DNSNames, Conditions: item.Status.Conditions,
				NotAfter: item.Status.NotAfter, RenewalTime: item.Status.RenewalTime,
				FailedIssuanceAttempts: item.Status.FailedIssuanceAttempts, LastFailureTime: item.Status.LastFailureTime}
			if item.Spec.IssuerRef.Name != "" {
				kind := item.Spec.IssuerRef.Kind
				if kind == "" {
					kind = "Issuer"
				}
				c.Issuer = kind + "/" + item.Spec.IssuerRef.Name
			}
			out = append(out, c)
		}
		if page.Metadata.Continue == "" {
			return out, nil
		}
		next = page.Metadata.Continue
	}
}
