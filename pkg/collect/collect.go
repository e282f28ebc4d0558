// Package collect fills a Snapshot from a live cluster. It is the only code that talks to the
// API server for checks: each kind is listed once, concurrently, in pages, and with read-only
// verbs only. A kind the caller may not read is recorded as unavailable, not treated as empty.
package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	aggregatorscheme "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/scheme"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// DefaultChunkSize matches kubectl's --chunk-size default.
const DefaultChunkSize = 500

// Options tunes a collection.
type Options struct {
	// Namespace limits namespaced kinds to one namespace; empty lists the whole cluster.
	Namespace string
	// ChunkSize is the page size of every LIST; 0 lists each kind in one response.
	ChunkSize int64
	// Concurrency bounds the LIST requests in flight; 0 means one per kind.
	Concurrency int
	// Progress, when set, is told each time a kind has been read.
	Progress func(done, total int, kind snapshot.Kind)
	// Received, when set, is told how many objects of a kind each page brought; it may be
	// called from many goroutines.
	Received func(kind snapshot.Kind, objects int)
	// PrometheusURL is a Prometheus to read node_exporter's series from; empty means one is
	// looked for among the cluster's Services.
	PrometheusURL string
	// ConntrackResample is how long to wait before scraping a node-exporter pod again to see
	// whether drops are happening now; 0 scrapes once.
	ConntrackResample time.Duration
}

// UnreachableError means the API server could not be talked to at all, so no check can run.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// Clients are the API clients the collector reads through.
type Clients struct {
	Kube kubernetes.Interface
	// Metrics reads metrics.k8s.io; nil means usage is not collected.
	Metrics metricsclient.Interface
	// Anonymous talks to the same server with the same TLS settings but no credentials, to see
	// what an outsider sees; nil means it is not probed.
	Anonymous rest.Interface
	// Aggregator lists the aggregation layer's APIServices (apiregistration.k8s.io), which the
	// Kubernetes clientset does not serve.
	Aggregator aggregatorclient.Interface
	// ServingCert reads the API server's certificate chain from a TLS handshake; nil means it
	// is not read.
	ServingCert *servingCertProbe
	// Config reaches in-cluster services through the API server's service proxy (Prometheus);
	// nil means none is asked.
	Config *rest.Config
}

// NewClients builds the clients for a REST config.
func NewClients(config *rest.Config) (Clients, error) {
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return Clients{}, err
	}
	metrics, err := metricsclient.NewForConfig(config)
	if err != nil {
		return Clients{}, err
	}
	anonymousConfig := rest.AnonymousClientConfig(config)
	anonymousConfig.UserAgent = config.UserAgent
	anonymous, err := kubernetes.NewForConfig(anonymousConfig)
	if err != nil {
		return Clients{}, err
	}
	aggregator, err := aggregatorclient.NewForConfig(config)
	if err != nil {
		return Clients{}, err
	}
	servingCert, err := newServingCertProbe(config)
	if err != nil {
		return Clients{}, err
	}
	return Clients{Kube: kube, Metrics: metrics, Aggregator: aggregator, Anonymous: anonymous.Discovery().RESTClient(),
		ServingCert: servingCert, Config: config}, nil
}

// Collect lists the given kinds into a new snapshot. Conntrack is measured last, from the pods,
// Services and nodes the listing read.
func Collect(ctx context.Context, clients Clients, kinds []snapshot.Kind, opts Options) (*snapshot.Snapshot, error) {
	measureConntrack := slices.Contains(kinds, snapshot.KindConntrack)
	if measureConntrack {
		// What to measure is found among these: a Prometheus Service, node-exporter pods, nodes.
		kinds = append(slices.Clone(kinds), conntrackContext()...)
	}
	kinds = uniqueSorted(kinds)
	total := len(kinds)
	kinds = slices.DeleteFunc(kinds, func(k snapshot.Kind) bool { return k == snapshot.KindConntrack })
	limit := opts.Concurrency
	if limit <= 0 || limit > len(kinds) {
		limit = len(kinds)
	}
	snap := snapshot.New(snapshot.SourceCluster)
	snap.Namespace = opts.Namespace
	c := &collector{clients: clients, opts: opts, snap: snap}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		answered int   // kinds the server answered, with objects or a refusal
		noAnswer error // the first kind that got no answer in time, and why
		slots    = make(chan struct{}, max(limit, 1))
	)
	for _, kind := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			err := c.list(ctx, kind)
			mu.Lock()
			defer mu.Unlock()
			reason, absent, ok := UnavailableReason(ctx, kind, err)
			// Probes say nothing about whether the server answers the lists the checks need.
			counts := !kind.Info().Probe
			switch {
			case err == nil:
				if counts {
					answered++
				}
			case ok:
				markUnavailable(snap, kind, reason, absent)
				var status apierrors.APIStatus
				if errors.As(err, &status) {
					if counts {
						answered++ // a refusal or a server error is an answer
					}
				} else if noAnswer == nil && counts {
					noAnswer = fmt.Errorf("listing %s: %s", kind, reason)
				}
			default:
				// The server did not answer for this kind (the connection broke, retries ran
				// out): the run goes on with what it could read, and the checks needing this
				// kind say why they could not see.
				snap.MarkUnavailable(kind, "no answer from the API server: "+err.Error())
				if noAnswer == nil && counts {
					noAnswer = fmt.Errorf("listing %s: %w", kind, err)
				}
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done, total, kind)
			}
		}()
	}
	wg.Wait()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, ctx.Err()
	}
	if answered == 0 && noAnswer != nil {
		return nil, &UnreachableError{Err: noAnswer}
	}
	switch {
	case measureConntrack && ctx.Err() != nil:
		snap.MarkUnavailable(snapshot.KindConntrack, "not read before the run's deadline (--timeout)")
	case measureConntrack:
		measured, err := c.measureConntrack(ctx)
		if err != nil {
			reason, absent, _ := UnavailableReason(ctx, snapshot.KindConntrack, err)
			if reason == "" {
				reason = err.Error()
			}
			markUnavailable(snap, snapshot.KindConntrack, reason, absent)
		}
		snap.Conntrack = measured
		if opts.Progress != nil {
			opts.Progress(total, total, snapshot.KindConntrack)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, ctx.Err() // Ctrl-C during the measurement: what it read is not a whole answer
	}
	snap.Finish()
	return snap, nil
}

func uniqueSorted(kinds []snapshot.Kind) []snapshot.Kind {
	seen := map[snapshot.Kind]bool{}
	var out []snapshot.Kind
	for _, k := range kinds {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// markUnavailable records a kind the run did not read, telling one that is not there to read
// (absent) from one that could not be seen.
func markUnavailable(snap *snapshot.Snapshot, kind snapshot.Kind, reason string, absent bool) {
	if absent {
		snap.MarkAbsent(kind, reason)
		return
	}
	snap.MarkUnavailable(kind, reason)
}

// UnavailableReason turns the errors that blind a check, rather than end the run, into the
// reason shown under "not evaluated", and tells whether what was asked for is absent from the
// cluster (an API that is not served, a component that is not installed) rather than unseen.
func UnavailableReason(ctx context.Context, kind snapshot.Kind, err error) (reason string, absent, ok bool) {
	var status apierrors.APIStatus
	var unanswered *unansweredError
	var blind *blindError
	switch {
	case errors.As(err, &unanswered):
		return unanswered.Error(), false, true
	case errors.As(err, &blind):
		return blind.reason, blind.absent, true
	case kind == snapshot.KindPodMetrics && apierrors.IsNotFound(err):
		return "the metrics API (metrics.k8s.io) is not served: install metrics-server", true, true
	case kind == snapshot.KindPodMetrics && apierrors.IsServiceUnavailable(err):
		// The aggregator's answer for a registered APIService whose backend is down: the metrics
		// API is there, and could not be read.
		return "the metrics API (metrics.k8s.io) is registered but not answering: check that metrics-server is running", false, true
	case kind == snapshot.KindHTTPRoutes && apierrors.IsNotFound(err):
		return "the Gateway API (" + snapshot.GatewayGroupVersion + ") is not served: no HTTPRoutes to follow", true, true
	case kind == snapshot.KindCertManagerCertificates && apierrors.IsNotFound(err):
		return "cert-manager's Certificate API (cert-manager.io/v1) is not served: cert-manager is not installed", true, true
	case apierrors.IsForbidden(err):
		return "forbidden: " + statusMessage(err), false, true
	case apierrors.IsUnauthorized(err):
		return "unauthorized: " + statusMessage(err), false, true
	case apierrors.IsNotFound(err):
		return "not served by this API server", true, true
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return "not read before the run's deadline (--timeout)", false, true
	case errors.Is(err, context.DeadlineExceeded):
		// client-go cuts each request at --request-timeout with a deadline of its own.
		return "timed out: no answer within --request-timeout", false, true
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || isClientTimeout(err):
		return "timed out: " + err.Error(), false, true
	case errors.As(err, &status) && status.Status().Code >= 500:
		return "server error: " + statusMessage(err), false, true
	}
	return "", false, false
}

// isClientTimeout tells a request that --request-timeout cut short.
func isClientTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func statusMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

type collector struct {
	clients Clients
	opts    Options
	snap    *snapshot.Snapshot
}

// list reads one kind into its field of the snapshot. Each kind has its own field, so the
// goroutines never write to the same memory. Object kinds are listed as their table entry
// says (group, version, resource, scope); the cases here are those read differently.
func (c *collector) list(ctx context.Context, kind snapshot.Kind) error {
	ns := c.opts.Namespace
	core := c.clients.Kube.CoreV1()
	switch kind {
	case snapshot.KindNamespaces:
		if ns == "" {
			return c.listObjects(ctx, kind, "", "")
		}
		// A user scoped to one namespace may get it but not list all of them.
		one, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err == nil {
			one.ManagedFields = nil
			c.snap.Namespaces = append(c.snap.Namespaces, *one)
		}
		return err
	case snapshot.KindConfigMaps:
		for i, where := range ConfigMapNamespaces(ns) {
			if i > 0 {
				// Another distribution's add-on namespace (openshift-dns): where it does not exist
				// there is nothing to read, and a reader granted only kube-system is not blind.
				if _, getErr := core.Namespaces().Get(ctx, where, metav1.GetOptions{}); apierrors.IsNotFound(getErr) {
					continue
				}
			}
			if err := c.listObjects(ctx, kind, where, ""); err != nil {
				return err
			}
		}
		return nil
	case snapshot.KindEvents:
		// Every event about nodes, Normal ones included: node-problem-detector reports some
		// there. Nodes are not namespaced, so their events (kept in default) are read whatever -n
		// says.
		if err := c.listObjects(ctx, kind, metav1.NamespaceAll, NodeEvents); err != nil {
			return err
		}
		if err := c.listWarningEvents(ctx, ns); err != nil {
			return err
		}
		return c.listPreemptedEvents(ctx, ns)
	case snapshot.KindPodMetrics:
		// An aggregated API, served by metrics-server when it is installed, through its own client.
		if c.clients.Metrics == nil {
			return apierrors.NewNotFound(metricsv1beta1.Resource("pods"), "")
		}
		into, _ := kind.ObjectsIn(c.snap)
		return pages(ctx, metav1.ListOptions{Limit: c.opts.ChunkSize}, c.counter(kind),
			typedList(c.clients.Metrics.MetricsV1beta1().PodMetricses(ns).List), into)
	case snapshot.KindDNSMetrics:
		var err error
		c.snap.DNSMetrics, err = scrapeDNSMetrics(ctx, core, ns)
		return err
	case snapshot.KindKubeletConfigs:
		var err error
		c.snap.KubeletConfigs, err = readKubeletConfigs(ctx, core, ns)
		return err
	case snapshot.KindHTTPRoutes:
		var err error
		c.snap.HTTPRoutes, err = listHTTPRoutes(ctx, core.RESTClient(), ns, c.opts.ChunkSize)
		return err
	case snapshot.KindVolumeStats:
		var err error
		c.snap.VolumeStats, err = c.readVolumeStats(ctx)
		return err
	case snapshot.KindServerVersion:
		info, err := c.clients.Kube.Discovery().ServerVersionWithContext(ctx)
		if err == nil {
			c.snap.ServerVersion = info.GitVersion
		}
		return err
	case snapshot.KindAnonymousAccess:
		var err error
		c.snap.AnonymousAccess, err = probeAnonymous(ctx, c.clients.Anonymous)
		return err
	case snapshot.KindServingCertificate:
		var err error
		c.snap.ServingCertificate, err = c.clients.ServingCert.read(ctx)
		return err
	case snapshot.KindCertManagerCertificates:
		var client rest.Interface
		if c.clients.Kube != nil {
			client = c.clients.Kube.CoreV1().RESTClient()
		}
		var err error
		c.snap.CertManagerCertificates, err = listCertManagerCertificates(ctx, client, ns, c.opts.ChunkSize)
		return err
	}
	if _, isObjectKind := kind.ObjectsIn(c.snap); !isObjectKind {
		return fmt.Errorf("no collector for kind %q", kind)
	}
	return c.listObjects(ctx, kind, ns, "")
}

// listObjects appends the objects of kind in namespace ("" for all, and ignored for a
// cluster-scoped kind) to the snapshot, those fieldSelector selects if it is set. Every page
// is read as a protobuf answer without managedFields (listWithoutManagedFields), or without
// their field sets for the kinds that keep who changed them (KindInfo.ChangeTimes).
func (c *collector) listObjects(ctx context.Context, kind snapshot.Kind, namespace, fieldSelector string) error {
	info := kind.Info()
	client, err := c.clients.listClient(info.GroupVersion)
	if err != nil {
		return err
	}
	if !info.Namespaced {
		namespace = ""
	}
	into, _ := kind.ObjectsIn(c.snap)
	lister := newPageLister(client.rest, namespace, info.Resource, into.NewList).decodingWith(client).keepingChangeTimes(info.ChangeTimes)
	return pages(ctx, metav1.ListOptions{Limit: c.opts.ChunkSize, FieldSelector: fieldSelector}, c.counter(kind), lister.list, into)
}

// typedClient is the REST client of a typed clientset for one API group version, with the
// decoder and parameter codec of that clientset's scheme; nil ones mean the Kubernetes
// clientset's.
type typedClient struct {
	rest    rest.Interface
	decoder runtime.Decoder
	params  runtime.ParameterCodec
}

// listClient is the client of the typed clientset for an API group version (the aggregator's
// for apiregistration). Every group of the table's object kinds but the metrics API's is here;
// a kind of another group fails TestEveryListableKindIsCollected until its group is added.
func (c Clients) listClient(groupVersion string) (typedClient, error) {
	kube := c.Kube
	switch groupVersion {
	case "v1":
		return typedClient{rest: kube.CoreV1().RESTClient()}, nil
	case "apps/v1":
		return typedClient{rest: kube.AppsV1().RESTClient()}, nil
	case "batch/v1":
		return typedClient{rest: kube.BatchV1().RESTClient()}, nil
	case "discovery.k8s.io/v1":
		return typedClient{rest: kube.DiscoveryV1().RESTClient()}, nil
	case "networking.k8s.io/v1":
		return typedClient{rest: kube.NetworkingV1().RESTClient()}, nil
	case "policy/v1":
		return typedClient{rest: kube.PolicyV1().RESTClient()}, nil
	case "rbac.authorization.k8s.io/v1":
		return typedClient{rest: kube.RbacV1().RESTClient()}, nil
	case "admissionregistration.k8s.io/v1":
		return typedClient{rest: kube.AdmissionregistrationV1().RESTClient()}, nil
	case "certificates.k8s.io/v1":
		return typedClient{rest: kube.CertificatesV1().RESTClient()}, nil
	case "storage.k8s.io/v1":
		return typedClient{rest: kube.StorageV1().RESTClient()}, nil
	case "autoscaling/v2":
		return typedClient{rest: kube.AutoscalingV2().RESTClient()}, nil
	case "scheduling.k8s.io/v1":
		return typedClient{rest: kube.SchedulingV1().RESTClient()}, nil
	case "apiregistration.k8s.io/v1":
		if c.Aggregator != nil {
			return typedClient{rest: c.Aggregator.ApiregistrationV1().RESTClient(),
				decoder: aggregatorscheme.Codecs.UniversalDeserializer(), params: aggregatorscheme.ParameterCodec}, nil
		}
	}
	return typedClient{}, fmt.Errorf("no client for API group version %s", groupVersion)
}

// typedList adapts a typed clientset's List to what pages reads.
func typedList[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context, metav1.ListOptions) (runtime.Object, error) {
	return func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return list(ctx, opts)
	}
}

// anonymousProbes are the requests an outsider would try first: the public version endpoint,
// discovery, and listing the two things worth stealing names from.
func anonymousProbes() []string {
	return []string{"/version", "/api", "/api/v1/namespaces", "/api/v1/pods"}
}

// probeAnonymous sends read-only GETs without credentials and records each status code.
func probeAnonymous(ctx context.Context, client rest.Interface) ([]snapshot.ProbeResult, error) {
	if client == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "anonymous access"}, "")
	}
	var results []snapshot.ProbeResult
	answered := false
	for _, path := range anonymousProbes() {
		req := client.Get().AbsPath(path)
		if strings.HasPrefix(path, "/api/v1/") {
			req = req.Param("limit", "1")
		}
		var code int
		err := req.Do(ctx).StatusCode(&code).Error()
		r := snapshot.ProbeResult{Path: path, Status: code}
		if code == 0 && err != nil {
			r.Error = err.Error()
		} else {
			answered = true
		}
		results = append(results, r)
	}
	if !answered {
		return nil, &unansweredError{cause: results[0].Error}
	}
	return results, nil
}

// unansweredError means no request without credentials got any answer (a proxy that insists on
// a client certificate, say): what an outsider sees cannot be told, which blinds only the checks
// that read it.
type unansweredError struct{ cause string }

func (e *unansweredError) Error() string {
	return "no answer to requests without credentials: " + e.cause
}

// blindError means a probe found nothing it could read; the reason says what and how to fix it.
// absent says there was nothing to read: the component it reads is not installed, or not in
// the run's scope.
type blindError struct {
	reason string
	absent bool
}

func (e *blindError) Error() string { return e.reason }

// ConfigMapNamespaces are where ConfigMaps are read: the namespaces of cluster add-ons, or the
// one namespace the run is limited to.
func ConfigMapNamespaces(ns string) []string {
	if ns != "" {
		return []string{ns}
	}
	return snapshot.ClusterDNSNamespaces()
}

// maxPresize bounds how far a list is sized ahead from the server's remaining-item count.
const maxPresize = 1 << 20

// counter reports the objects of kind as pages arrive; nil when nobody listens.
func (c *collector) counter(kind snapshot.Kind) func(int) {
	if c.opts.Received == nil {
		return nil
	}
	return func(n int) { c.opts.Received(kind, n) }
}

// Pages cut off mid-answer are asked for again this many times, waiting pageRetryPause longer
// each time.
const (
	maxPageRetries = 3
	pageRetryPause = 250 * time.Millisecond
)

// transient tells the failures worth asking again for: the connection broke before or while
// the answer came, or the server answered that it failed this once (500, 502, 504, or 429
// after client-go's own Retry-After waits). 503 is left alone: it is how an aggregated API
// that is not installed answers (metrics.k8s.io without metrics-server), every time.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch status.Status().Code {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusTooManyRequests:
			return true
		}
		return false
	}
	// The protobuf decoder reports a body cut short as text, without wrapping io.ErrUnexpectedEOF.
	return utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || errors.Is(err, io.ErrUnexpectedEOF) ||
		utilnet.IsHTTP2ConnectionLost(err) || strings.Contains(err.Error(), "unexpected EOF")
}

// pages follows continue tokens until the list is complete, appending each page's objects to
// into and telling received (if set) the size of each page. Every request is first's options
// with the page's continue token. If a token expires mid-way (410 Gone), it starts over once
// with a full list, as client-go's pager does.
func pages(ctx context.Context, first metav1.ListOptions, received func(int), list func(context.Context, metav1.ListOptions) (runtime.Object, error), into snapshot.ObjectList) error {
	start := into.Len()
	reported := 0
	opts := first
	retries := 0
	for {
		page, err := list(ctx, opts)
		if transient(err) && retries < maxPageRetries && ctx.Err() == nil {
			// A LIST is safe to repeat: ask for the same page again after a pause. client-go
			// retries only what carries Retry-After and requests that got no answer at all;
			// this also covers an answer cut off halfway, which it hands back as a decoding
			// error, and a server error without Retry-After.
			retries++
			select {
			case <-time.After(time.Duration(retries) * pageRetryPause):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if apierrors.IsResourceExpired(err) && opts.Continue != "" {
			if received != nil {
				received(-reported) // the objects come again
				reported = 0
			}
			into.Truncate(start)
			opts = metav1.ListOptions{FieldSelector: first.FieldSelector}
			continue
		}
		if err != nil {
			into.Truncate(start)
			return err
		}
		meta, err := apimeta.ListAccessor(page)
		if err != nil {
			into.Truncate(start)
			return err
		}
		remaining := meta.GetRemainingItemCount()
		if into.Len() == start && meta.GetContinue() != "" && remaining != nil && *remaining > 0 {
			// The server says how many are left: size the list once rather than copying ten
			// thousand pods each time it grows; within reason, as the count is the server's word.
			into.Grow(apimeta.LenList(page) + int(min(*remaining, maxPresize)))
		}
		// No check reads managedFields; Append leaves them out, but for the slim form some
		// kinds keep (KindInfo.ChangeTimes). (The lists read with listWithoutManagedFields
		// leave them out before decoding.)
		got, err := into.Append(page)
		if err != nil {
			into.Truncate(start)
			return err
		}
		if received != nil {
			received(got)
			reported += got
		}
		if meta.GetContinue() == "" {
			return nil
		}
		opts.Continue = meta.GetContinue()
	}
}
