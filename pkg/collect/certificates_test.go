package collect

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/internal/testpki"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func versionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"gitVersion":"v1.37.2"}`)
	})
}

// The serving certificate is the one the server presented in the handshake, as the client's
// configuration trusts it; no private part is kept.
func TestServingCertificateFromTheHandshake(t *testing.T) {
	notAfter := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	cert, certPEM := testpki.ServerCertificate(t, "apiserver-under-test", notAfter)
	server := httptest.NewUnstartedServer(versionHandler())
	server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	server.StartTLS()
	t.Cleanup(server.Close)
	clients, err := NewClients(&rest.Config{Host: server.URL, TLSClientConfig: rest.TLSClientConfig{CAData: certPEM}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Collect(context.Background(), clients, []snapshot.Kind{snapshot.KindServingCertificate}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := snap.ServingCertificate
	if got == nil || len(got.Chain) != 1 {
		t.Fatalf("read %+v (unavailable: %v)", got, snap.Unavailable)
	}
	c := got.Chain[0]
	if c.Subject != "CN=apiserver-under-test" || !c.Leaf || !c.NotAfter.Time.Equal(notAfter) || strings.Join(c.IPAddresses, ",") != "127.0.0.1" || got.Proxy != "" {
		t.Errorf("chain %+v", got)
	}
}

// Over plain HTTP there is no handshake: the kind is unread, and says why.
func TestServingCertificateOverPlainHTTP(t *testing.T) {
	server := httptest.NewServer(versionHandler())
	t.Cleanup(server.Close)
	clients, err := NewClients(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Collect(context.Background(), clients, []snapshot.Kind{snapshot.KindServingCertificate, snapshot.KindServerVersion}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if why := snap.Unavailable[snapshot.KindServingCertificate]; !strings.Contains(why, "plain HTTP") || snap.Absent[snapshot.KindServingCertificate] {
		t.Errorf("unavailable %q, absent %v", why, snap.Absent)
	}
}

// cert-manager's Certificates are read page by page into the fields the checks judge; where
// the CRD is not served they are absent, with the reason.
func TestCertManagerCertificates(t *testing.T) {
	var asked []string
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("continue") {
		case "":
			fmt.Fprint(w, `{"metadata":{"continue":"next"},"items":[{"metadata":{"namespace":"shop","name":"b"},
				"spec":{"secretName":"b-tls","issuerRef":{"name":"le"}},
				"status":{"conditions":[{"type":"Ready","status":"False","reason":"Failed","lastTransitionTime":"2026-11-24T09:00:00Z"}],
				"notAfter":"2026-11-27T10:00:00Z","failedIssuanceAttempts":3}}]}`)
		default:
			fmt.Fprint(w, `{"metadata":{},"items":[{"metadata":{"namespace":"shop","name":"a"},"spec":{"issuerRef":{"kind":"ClusterIssuer","name":"ca"}}}]}`)
		}
	})
	snap, err := Collect(context.Background(), fakeClients(t, served), []snapshot.Kind{snapshot.KindCertManagerCertificates}, Options{ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := snap.CertManagerCertificates
	if len(got) != 2 || got[0].Name != "a" || got[0].Issuer != "ClusterIssuer/ca" || got[1].Issuer != "Issuer/le" ||
		got[1].FailedIssuanceAttempts != 3 || got[1].NotAfter == nil || got[1].SecretName != "b-tls" {
		t.Errorf("read %+v", got)
	}
	if want := []string{"GET /apis/cert-manager.io/v1/certificates?limit=1", "GET /apis/cert-manager.io/v1/certificates?continue=next&limit=1"}; strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked %q, want %q", asked, want)
	}

	notServed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	snap, err = Collect(context.Background(), fakeClients(t, notServed), []snapshot.Kind{snapshot.KindCertManagerCertificates}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if why := snap.Unavailable[snapshot.KindCertManagerCertificates]; !snap.Absent[snapshot.KindCertManagerCertificates] || !strings.Contains(why, "not served") {
		t.Errorf("without the CRD: %q, absent %v", why, snap.Absent)
	}
}
