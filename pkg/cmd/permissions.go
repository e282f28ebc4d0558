package cmd

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// permissionsFlag is --explain-permissions; the options of every command that reads a cluster
// embed it, so the flag's method below is theirs too.
type permissionsFlag struct {
	explain bool
}

func (p *permissionsFlag) addExplainPermissionsFlag(f *pflag.FlagSet) {
	f.BoolVar(&p.explain, "explain-permissions", false, "Read nothing but whether OpenShift's DNS namespace exists: list the API requests the selected checks would make and "+
		"whether the current identity may make them (asked with SelfSubjectAccessReviews); exit 3 when some check would not be evaluated")
}

// KindPermissionReport is the kind of the --explain-permissions document, in the same versioned
// contract as Report: fields may be added, never renamed.
const KindPermissionReport = "PermissionReport"

// PermissionReport is what the collector would request and whether the identity may.
type PermissionReport struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Identity is who the API server says is asking; absent when it does not say
	// (SelfSubjectReview not served or not allowed).
	Identity *PermissionIdentity `json:"identity,omitempty"`
	Accesses []PermissionAccess  `json:"accesses"`
	// NotEvaluated are the checks the denied accesses would leave not evaluated.
	NotEvaluated []string `json:"notEvaluated"`
	// Degraded are the other checks that read something refused when it is there to read:
	// they lose detail, or, where what they find turns on it (dns-forward-loop-risk and the
	// kubelet's configuration), say not evaluated.
	Degraded []string `json:"degraded"`
}

// PermissionIdentity is the user and groups the authorizer sees.
type PermissionIdentity struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// PermissionAccess is one request the collector would make and the API server's answer.
type PermissionAccess struct {
	Verb        string `json:"verb"`
	Group       string `json:"group"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource"`
	// Namespace is where the request is made; empty for all namespaces and for cluster-scoped
	// resources.
	Namespace string `json:"namespace"`
	// Name is set when one object is asked for (a namespace by name).
	Name           string `json:"name,omitempty"`
	NonResourceURL string `json:"nonResourceURL"`
	Allowed        bool   `json:"allowed"`
	// Reason is the authorizer's reason, or its evaluation error.
	Reason string          `json:"reason"`
	Kinds  []snapshot.Kind `json:"kinds"`
	Checks []string        `json:"checks"`
	// Optional means no selected check goes blind without it: it sharpens a result, is one of
	// several sources, or is made only on some clusters (Note says which).
	Optional bool   `json:"optional"`
	Note     string `json:"note,omitempty"`

	// namespaced tells, for the table, all namespaces from cluster-scoped when Namespace is empty.
	namespaced bool
}

// plannedAccess is one request the collector makes, and which kinds need it.
type plannedAccess struct {
	request snapshot.Request
	// namespaced tells a request across all namespaces from one for a cluster-scoped resource.
	namespaced bool
	needs      []accessNeed
	notes      []string
}

// accessNeed is one kind's use of a request.
type accessNeed struct {
	kind snapshot.Kind
	// optional: the kind is still read without the request, with less detail or, where the
	// request is made only on some clusters, elsewhere.
	optional bool
	// source names one of the alternative ways of reading the kind: it is read when every
	// request of any one of its sources is allowed.
	source string
}

// The alternative sources of the conntrack measurement.
const (
	sourcePrometheus   = "a Prometheus Service, through services/proxy"
	sourceNodeExporter = "node-exporter pods, through pods/proxy"
)

// accessTable collects requests, one row per distinct request whatever the kinds that need it.
type accessTable struct {
	rows  []plannedAccess
	index map[snapshot.Request]int
}

func (t *accessTable) add(r snapshot.Request, namespaced bool, need accessNeed, note string) {
	if t.index == nil {
		t.index = map[snapshot.Request]int{}
	}
	i, ok := t.index[r]
	if !ok {
		i = len(t.rows)
		t.index[r] = i
		t.rows = append(t.rows, plannedAccess{request: r, namespaced: namespaced})
	}
	row := &t.rows[i]
	if !slices.Contains(row.needs, need) {
		row.needs = append(row.needs, need)
	}
	if note != "" && !slices.Contains(row.notes, note) {
		row.notes = append(row.notes, note)
	}
}

// list adds the LIST of a kind's objects, in namespace if the kind is namespaced ("" is all).
func (t *accessTable) list(kind snapshot.Kind, namespace string, need accessNeed, note string) {
	info := kind.Info()
	r := snapshot.Request{Verb: "list", APIGroup: info.Group, Resource: resourceOf(kind)}
	if info.Namespaced {
		r.Namespace = namespace
	}
	t.add(r, info.Namespaced, need, note)
}

// resourceOf is the API resource a kind is listed as: the kind's own name, but for the metrics
// API's pods.
func resourceOf(kind snapshot.Kind) string {
	if kind == snapshot.KindPodMetrics {
		return "pods"
	}
	return string(kind)
}

// accessesFor lists the requests the collector (pkg/collect) makes to read kinds, in a run
// limited to namespace ("" is the whole cluster), in a stable order. directPrometheus is
// --prometheus-url: conntrack's Prometheus is then asked directly, not through the API server.
// It follows collect.Collect request for request; the e2e test holds it to the API server's
// audit log of real runs, and to deploy/rbac.yaml.
func accessesFor(kinds []snapshot.Kind, namespace string, directPrometheus bool, absent map[string]bool) []plannedAccess {
	var t accessTable
	// Every run asks for the version first, to fail fast on a server it cannot reach; a
	// refusal there is taken as a sign of life.
	t.add(snapshot.Request{Verb: "get", Path: "/version"}, false, accessNeed{kind: snapshot.KindServerVersion, optional: true},
		"first, to tell an unreachable server")
	for _, kind := range kinds {
		need := accessNeed{kind: kind}
		switch kind {
		case snapshot.KindNamespaces:
			if namespace == "" {
				t.list(kind, "", need, "")
				break
			}
			// A user scoped to one namespace may get it but not list all of them; the API server
			// authorizes a namespace's GET as a request in that namespace.
			t.add(snapshot.Request{Verb: "get", Resource: "namespaces", Namespace: namespace, Name: namespace}, false, need, "")
		case snapshot.KindConfigMaps:
			if namespace != "" {
				t.list(kind, namespace, need, "")
				break
			}
			// The cluster add-ons' namespaces: the first always, the others (openshift-dns)
			// unless a GET shows they do not exist. A refused GET proves nothing, so the list is
			// made, and its refusal blinds every ConfigMap check.
			for i, where := range snapshot.ClusterDNSNamespaces() {
				if i == 0 {
					t.list(kind, where, need, "")
					continue
				}
				t.add(snapshot.Request{Verb: "get", Resource: "namespaces", Namespace: where, Name: where}, false,
					accessNeed{kind: kind, optional: true}, "whether namespace "+where+" exists, to read its ConfigMaps")
				if !absent[where] {
					t.list(kind, where, need, "namespace "+where+" exists (OpenShift's DNS)")
				}
			}
		case snapshot.KindEvents:
			// Node events live in default, whatever -n says: always across all namespaces.
			t.list(kind, "", need, "events about nodes only (field selector involvedObject.kind=Node)")
		case snapshot.KindServerVersion:
			t.add(snapshot.Request{Verb: "get", Path: "/version"}, false, need, "")
		case snapshot.KindAnonymousAccess:
			// Probed without credentials: no permission of this identity is involved.
		case snapshot.KindDNSMetrics, snapshot.KindKubeletConfigs:
			dnsProbeAccesses(&t, kind, namespace)
		case snapshot.KindConntrack:
			conntrackAccesses(&t, namespace, directPrometheus)
		default:
			if info := kind.Info(); info.GroupVersion != "" && !info.Probe {
				t.list(kind, namespace, need, "")
			}
		}
	}
	slices.SortFunc(t.rows, func(a, b plannedAccess) int { return compareRequests(a.request, b.request) })
	return t.rows
}

// dnsProbeAccesses are the requests of the probes through the cluster DNS pods: their list in
// each DNS namespace in scope, then each pod's metrics (pods/proxy) or its node's kubelet
// configuration (nodes/proxy).
func dnsProbeAccesses(t *accessTable, kind snapshot.Kind, namespace string) {
	if snapshot.DNSOutOfScope(namespace) != "" {
		return // the collector knows it cannot see the DNS pods and asks nothing
	}
	first := true
	for _, where := range snapshot.ClusterDNSNamespaces() {
		if namespace != "" && namespace != where {
			continue
		}
		// Every DNS namespace is listed, existing or not: one refusal ends the probe.
		t.list(snapshot.KindPods, where, accessNeed{kind: kind}, "to find the cluster DNS pods")
		if kind == snapshot.KindDNSMetrics {
			proxy := snapshot.Request{Verb: "get", Resource: "pods", Subresource: "proxy", Namespace: where}
			if first {
				t.add(proxy, true, accessNeed{kind: kind}, "CoreDNS metrics (:9153/metrics) of the cluster DNS pods")
			} else {
				t.add(proxy, true, accessNeed{kind: kind, optional: true}, "CoreDNS metrics, where the cluster DNS runs in "+where+" (OpenShift)")
			}
		}
		first = false
	}
	if kind == snapshot.KindKubeletConfigs {
		t.add(snapshot.Request{Verb: "get", Resource: "nodes", Subresource: "proxy"}, false, accessNeed{kind: kind},
			"kubelet /configz of the nodes running cluster DNS")
	}
}

// conntrackAccesses are the requests of the conntrack measurement: the nodes, pods and Services
// it looks in, then Prometheus through the service proxy or node-exporter pods through the pod
// proxy, either of which will do. With --prometheus-url, Prometheus is asked directly and the
// pods are only the fallback.
func conntrackAccesses(t *accessTable, namespace string, directPrometheus bool) {
	prometheus, nodeExporter := accessNeed{kind: snapshot.KindConntrack, source: sourcePrometheus},
		accessNeed{kind: snapshot.KindConntrack, source: sourceNodeExporter}
	if directPrometheus {
		prometheus = accessNeed{kind: snapshot.KindConntrack, optional: true}
		nodeExporter = accessNeed{kind: snapshot.KindConntrack, optional: true}
	}
	// Nodes only name the series; without them, each keeps the name its labels give.
	t.list(snapshot.KindNodes, "", accessNeed{kind: snapshot.KindConntrack, optional: true}, "")
	t.list(snapshot.KindServices, namespace, prometheus, "")
	t.list(snapshot.KindPods, namespace, nodeExporter, "")
	if !directPrometheus {
		t.add(snapshot.Request{Verb: "get", Resource: "services", Subresource: "proxy", Namespace: namespace}, true, prometheus,
			"conntrack from Prometheus' query API; node-exporter pods are the alternative")
	}
	t.add(snapshot.Request{Verb: "get", Resource: "pods", Subresource: "proxy", Namespace: namespace}, true, nodeExporter,
		"conntrack from node-exporter pods (/metrics); Prometheus is the alternative")
}

// compareRequests orders resources before non-resource URLs, then by group (core first),
// resource, subresource, namespace (all first), name and verb.
func compareRequests(a, b snapshot.Request) int {
	return cmp.Or(
		cmp.Compare(boolRank(a.Path != ""), boolRank(b.Path != "")),
		cmp.Compare(a.APIGroup, b.APIGroup),
		cmp.Compare(a.Resource, b.Resource),
		cmp.Compare(a.Subresource, b.Subresource),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Verb, b.Verb),
	)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxReviewsInFlight bounds the SelfSubjectAccessReviews sent at once.
const maxReviewsInFlight = 8

// explainPermissions answers --explain-permissions for a run that would collect kinds for plan's
// checks: the requests, whether this identity may make each, and the checks a refusal blinds.
// It reads no object: it only creates review objects, which the API server does not store.
func (o *DiagnoseOptions) explainPermissions(ctx context.Context, plan engine.Plan, kinds []snapshot.Kind) error {
	if len(o.Filenames) > 0 || o.SnapshotFile != "" {
		return failed("--explain-permissions asks the cluster what this identity may read; it does not combine with -f or --snapshot")
	}
	client, err := o.reviewClient(ctx)
	if err != nil {
		return err
	}
	planned := accessesFor(kinds, o.namespace, o.PrometheusURL != "", absentNamespaces(ctx, client))
	decisions := make([]accessDecision, len(planned))
	errs := make([]error, len(planned))
	slots := make(chan struct{}, maxReviewsInFlight)
	var wg sync.WaitGroup
	for i := range planned {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			decisions[i], errs[i] = reviewAccess(ctx, client, planned[i].request)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return failed("asking the API server whether this identity may %s %s: %v", planned[i].request.Verb,
				resourceText(planned[i].request), shortNetError(err))
		}
	}
	counted := countedChecks(plan, o.namespace)
	permissionReport := newPermissionReport(planned, decisions, counted)
	permissionReport.Identity = whoAmI(ctx, client)

	switch o.format {
	case render.JSON, render.YAML:
		err = render.WriteData(o.streams.Out, permissionReport, o.format)
	default:
		err = writePermissionTable(o.streams.Out, permissionReport, permissionNotes{
			wide:             o.format == render.Wide,
			wholeClusterOnly: len(plan.Run) - len(counted),
			namespace:        o.namespace,
			anonymousProbe:   slices.Contains(kinds, snapshot.KindAnonymousAccess),
		})
	}
	if err != nil {
		return failed("writing the permissions: %v", err)
	}
	if len(permissionReport.NotEvaluated) > 0 {
		return &ExitError{Code: report.ExitIncomplete}
	}
	return nil
}

// reviewClient connects the way collect does: the same kubeconfig and flags (impersonation
// included), and the same one-line error for a server that cannot be reached.
func (o *DiagnoseOptions) reviewClient(ctx context.Context) (kubernetes.Interface, error) {
	config, err := o.clientConfig()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, failed("cannot configure a client for %s: %v", config.Host, err)
	}
	// Only /version: telling whether -n's namespace exists would be a read this mode does not make.
	if err := reach(ctx, client, config, o.contextName(), ""); err != nil {
		return nil, err
	}
	return client, nil
}

// absentNamespaces are the cluster add-on namespaces beyond the first (openshift-dns) that the
// API server says do not exist: the one read --explain-permissions makes, as the collector makes
// it, since whether their ConfigMaps are needed turns on it.
func absentNamespaces(ctx context.Context, client kubernetes.Interface) map[string]bool {
	absent := map[string]bool{}
	for _, where := range snapshot.ClusterDNSNamespaces()[1:] {
		if _, err := client.CoreV1().Namespaces().Get(ctx, where, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			absent[where] = true
		}
	}
	return absent
}

// accessDecision is the API server's answer for one request.
type accessDecision struct {
	allowed bool
	reason  string
}

func reviewAccess(ctx context.Context, client kubernetes.Interface, r snapshot.Request) (accessDecision, error) {
	var spec authorizationv1.SelfSubjectAccessReviewSpec
	if r.Path != "" {
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: r.Path, Verb: r.Verb}
	} else {
		spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: r.Namespace, Verb: r.Verb, Group: r.APIGroup,
			Resource: r.Resource, Subresource: r.Subresource, Name: r.Name}
	}
	answer, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
		&authorizationv1.SelfSubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return accessDecision{}, err
	}
	var reasons []string
	for _, why := range []string{answer.Status.Reason, answer.Status.EvaluationError} {
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	return accessDecision{allowed: answer.Status.Allowed, reason: strings.Join(reasons, "; ")}, nil
}

// whoAmI asks the API server who is asking; nil when it does not say (before Kubernetes 1.28,
// or where a policy refuses it), which only leaves the identity line out.
func whoAmI(ctx context.Context, client kubernetes.Interface) *PermissionIdentity {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username == "" {
		return nil
	}
	return &PermissionIdentity{Username: review.Status.UserInfo.Username, Groups: slices.Clone(review.Status.UserInfo.Groups)}
}

// countedChecks are the plan's checks whose evaluation depends on permissions: limited to a
// namespace, those that need the whole cluster are not evaluated whatever this identity may do.
func countedChecks(plan engine.Plan, namespace string) []check.Meta {
	var metas []check.Meta
	for _, c := range plan.Run {
		if m := c.Meta(); namespace == "" || !m.WholeCluster {
			metas = append(metas, m)
		}
	}
	return metas
}

// newPermissionReport joins the planned requests with the answers: which checks each serves,
// whether any needs it, and which checks the refusals leave not evaluated.
func newPermissionReport(planned []plannedAccess, decisions []accessDecision, counted []check.Meta) *PermissionReport {
	pr := &PermissionReport{APIVersion: report.APIVersion, Kind: KindPermissionReport, Accesses: []PermissionAccess{}, NotEvaluated: []string{},
		Degraded: []string{}}
	unreadable := unreadableKinds(planned, decisions)
	for i, a := range planned {
		access := PermissionAccess{Verb: a.request.Verb, Group: a.request.APIGroup, Resource: a.request.Resource,
			Subresource: a.request.Subresource, Namespace: a.request.Namespace, Name: a.request.Name, NonResourceURL: a.request.Path,
			Allowed: decisions[i].allowed, Reason: decisions[i].reason, Kinds: []snapshot.Kind{}, Checks: []string{}, Optional: true,
			Note: strings.Join(a.notes, "; "), namespaced: a.namespaced}
		for _, n := range a.needs {
			if !slices.Contains(access.Kinds, n.kind) {
				access.Kinds = append(access.Kinds, n.kind)
			}
			for _, m := range counted {
				required := slices.Contains(m.Requires, n.kind)
				if !required && !slices.Contains(m.Optional, n.kind) {
					continue
				}
				if !slices.Contains(access.Checks, m.ID) {
					access.Checks = append(access.Checks, m.ID)
				}
				if required && !n.optional && n.source == "" {
					access.Optional = false
				}
			}
		}
		slices.Sort(access.Kinds)
		slices.Sort(access.Checks)
		pr.Accesses = append(pr.Accesses, access)
	}
	isUnreadable := func(k snapshot.Kind) bool { return unreadable[k] }
	for _, m := range counted {
		switch {
		case slices.ContainsFunc(m.Requires, isUnreadable):
			pr.NotEvaluated = append(pr.NotEvaluated, m.ID)
		case slices.ContainsFunc(m.Optional, isUnreadable):
			pr.Degraded = append(pr.Degraded, m.ID)
		}
	}
	slices.Sort(pr.NotEvaluated)
	slices.Sort(pr.Degraded)
	return pr
}

// unreadableKinds are the kinds the refusals would leave unread: a kind is, when a request it
// cannot do without is refused, or when every one of its alternative sources has a refusal.
func unreadableKinds(planned []plannedAccess, decisions []accessDecision) map[snapshot.Kind]bool {
	unreadable := map[snapshot.Kind]bool{}
	sourceRefused := map[snapshot.Kind]map[string]bool{}
	for i, a := range planned {
		for _, n := range a.needs {
			switch {
			case n.source != "":
				if sourceRefused[n.kind] == nil {
					sourceRefused[n.kind] = map[string]bool{}
				}
				sourceRefused[n.kind][n.source] = sourceRefused[n.kind][n.source] || !decisions[i].allowed
			case !n.optional && !decisions[i].allowed:
				unreadable[n.kind] = true
			}
		}
	}
	for kind, sources := range sourceRefused {
		allRefused := true
		for _, refused := range sources {
			allRefused = allRefused && refused
		}
		if allRefused {
			unreadable[kind] = true
		}
	}
	return unreadable
}

// permissionNotes is what the table's summary says beyond the accesses.
type permissionNotes struct {
	wide bool
	// wholeClusterOnly counts the checks -n leaves not evaluated whatever the permissions.
	wholeClusterOnly int
	namespace        string
	anonymousProbe   bool
}

// writePermissionTable prints the accesses for people, then what the refusals cost.
func writePermissionTable(w io.Writer, pr *PermissionReport, notes permissionNotes) error {
	if id := pr.Identity; id != nil {
		line := "as user " + render.TerminalSafe(id.Username)
		if len(id.Groups) > 0 {
			line += " (groups " + render.TerminalSafe(strings.Join(id.Groups, ", ")) + ")"
		}
		fmt.Fprintln(w, line)
		fmt.Fprintln(w)
	}
	header := []string{"VERB", "RESOURCE", "NAMESPACE", "ALLOWED", "NEEDED FOR"}
	if notes.wide {
		header = append(header, "NOTE")
	}
	t := render.NewPlainTable(w, header...)
	allowed, refusedRequired, refusedOptional := 0, 0, 0
	for _, a := range pr.Accesses {
		switch {
		case a.Allowed:
			allowed++
		case a.Optional:
			refusedOptional++
		default:
			refusedRequired++
		}
		r := snapshot.Request{Verb: a.Verb, APIGroup: a.Group, Resource: a.Resource, Subresource: a.Subresource, Path: a.NonResourceURL}
		row := []string{a.Verb, resourceText(r), namespaceText(a), allowedText(a), neededForText(a, notes.wide)}
		if notes.wide {
			row = append(row, a.Note)
		}
		for i := range row {
			row[i] = render.TerminalSafe(row[i])
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d of %s allowed", allowed, check.Plural(len(pr.Accesses), "access", "accesses"))
	if refusedRequired+refusedOptional > 0 {
		summary += fmt.Sprintf("; %d required and %d optional refused", refusedRequired, refusedOptional)
	}
	fmt.Fprintln(w, summary+".")
	if len(pr.NotEvaluated) > 0 {
		fmt.Fprintf(w, "Not evaluated for lack of permission: %s: %s.\n", check.Plural(len(pr.NotEvaluated), "check", "checks"),
			strings.Join(pr.NotEvaluated, ", "))
	}
	if len(pr.Degraded) > 0 {
		fmt.Fprintf(w, "Evaluated with less to go on: %s (detail is lost, or, where a finding turns on what was refused, it says not evaluated): %s.\n",
			check.Plural(len(pr.Degraded), "check", "checks"), strings.Join(pr.Degraded, ", "))
	}
	if len(pr.NotEvaluated) == 0 && len(pr.Degraded) == 0 && refusedOptional > 0 {
		fmt.Fprintln(w, "Every selected check can be evaluated; the optional refusals only leave out one of several sources.")
	}
	if notes.wholeClusterOnly > 0 {
		fmt.Fprintf(w, "Limited to namespace %s (-n): %s the whole cluster, not evaluated whatever the permissions.\n",
			notes.namespace, check.Plural(notes.wholeClusterOnly, "check needs", "checks need"))
	}
	if notes.anonymousProbe {
		fmt.Fprintln(w, "The anonymous-access probe sends its requests without credentials: it needs no permission.")
	}
	if refusedRequired+refusedOptional > 0 {
		hint := "Hint: `kubectl apply -f deploy/rbac.yaml` grants exactly these (to the group alertmend:readers)"
		if notes.namespace != "" && !slices.Contains(snapshot.ClusterDNSNamespaces(), notes.namespace) &&
			slices.ContainsFunc(pr.Accesses, func(a PermissionAccess) bool { return a.Resource == "configmaps" }) {
			hint += ", but for ConfigMaps, which it grants in kube-system only"
		}
		fmt.Fprintln(w, hint+".")
	}
	return nil
}

// resourceText is how kubectl names a resource: plural.group/subresource, or the URL path.
func resourceText(r snapshot.Request) string {
	if r.Path != "" {
		return r.Path
	}
	text := r.Resource
	if r.APIGroup != "" {
		text += "." + r.APIGroup
	}
	if r.Subresource != "" {
		text += "/" + r.Subresource
	}
	return text
}

func namespaceText(a PermissionAccess) string {
	switch {
	case a.NonResourceURL != "":
		return "-"
	case a.Namespace != "":
		return a.Namespace
	case a.namespaced:
		return "all namespaces"
	}
	return "cluster-scoped"
}

func allowedText(a PermissionAccess) string {
	switch {
	case a.Allowed:
		return "yes"
	case a.Reason != "":
		return "no: " + a.Reason
	}
	return "no"
}

// neededForText names the checks that need an access, the first few unless wide.
func neededForText(a PermissionAccess, wide bool) string {
	var text string
	switch n := len(a.Checks); {
	case n == 0:
		kinds := make([]string, len(a.Kinds))
		for i, k := range a.Kinds {
			kinds[i] = string(k)
		}
		text = "no selected check (" + strings.Join(kinds, ", ") + ")"
	case n <= 3 || wide:
		text = check.Plural(n, "check", "checks") + ": " + strings.Join(a.Checks, ", ")
	default:
		text = check.Plural(n, "check", "checks") + ": " + strings.Join(a.Checks[:3], ", ") + ", …"
	}
	if a.Optional && len(a.Checks) > 0 {
		text += " (optional)"
	}
	return text
}
