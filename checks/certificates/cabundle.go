package certificates

import (
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// WebhookCABundle judges the CA bundles the API server verifies admission webhooks with.
type WebhookCABundle struct{}

func (WebhookCABundle) Meta() check.Meta {
	return check.Meta{
		ID:       "certificates-webhook-ca-bundle",
		Title:    "An admission webhook's CA bundle has expired or expires soon",
		Category: check.CategoryCertificates,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindValidatingWebhookConfigurations, snapshot.KindMutatingWebhookConfigurations},
		Description: "Parses the clientConfig.caBundle of every webhook of the Validating- and MutatingWebhookConfigurations " +
			"and reports a bundle that has expired, is not valid yet, cannot be read, or expires within 30 days (critical " +
			"within 7, high within 30). A bundle holding several CAs (one being rotated in) is judged by its longest-lived. " +
			"An expired or unreadable bundle is critical when the webhook's failurePolicy is Fail, high when Ignore. The " +
			"webhook's own serving certificate is not seen (that would mean calling it). Works on manifests too.",
		Why: "The API server cannot verify a webhook whose CA has expired: with failurePolicy Fail every request the webhook " +
			"intercepts is rejected (creates and updates blocked, often cluster-wide); with Ignore the webhook is skipped " +
			"and its policy silently not enforced.",
		Remediation: "Renew the webhook's CA and serving certificate, and put the new CA in caBundle: restart or re-run " +
			"whatever injects it (cert-manager's cainjector, the operator or chart that installed the webhook).",
		References: []string{
			"https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#contacting-the-webhook",
			"https://cert-manager.io/docs/concepts/ca-injector/",
		},
	}
}

// webhookBundle is one webhook's CA bundle and what its failure does.
type webhookBundle struct {
	name   string
	bundle []byte
	ignore bool
}

func (c WebhookCABundle) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	for i := range s.ValidatingWebhookConfigurations {
		cfg := &s.ValidatingWebhookConfigurations[i]
		var hooks []webhookBundle
		for _, w := range cfg.Webhooks {
			hooks = append(hooks, webhookBundle{w.Name, w.ClientConfig.CABundle, ignores(w.FailurePolicy)})
		}
		findings = append(findings, c.judgeConfiguration(s, snapshot.RefTo(snapshot.KindValidatingWebhookConfigurations, "", cfg.Name), hooks)...)
	}
	for i := range s.MutatingWebhookConfigurations {
		cfg := &s.MutatingWebhookConfigurations[i]
		var hooks []webhookBundle
		for _, w := range cfg.Webhooks {
			hooks = append(hooks, webhookBundle{w.Name, w.ClientConfig.CABundle, ignores(w.FailurePolicy)})
		}
		findings = append(findings, c.judgeConfiguration(s, snapshot.RefTo(snapshot.KindMutatingWebhookConfigurations, "", cfg.Name), hooks)...)
	}
	return findings
}

// ignores tells a webhook whose failure lets the request through; Fail is the v1 default.
func ignores(policy *admissionregistrationv1.FailurePolicyType) bool {
	return policy != nil && *policy == admissionregistrationv1.Ignore
}

// judgeConfiguration reports one configuration's webhooks whose bundles fail, as one finding at
// the severity of the worst.
func (c WebhookCABundle) judgeConfiguration(s *snapshot.Snapshot, ref snapshot.Ref, hooks []webhookBundle) []check.Finding {
	meta := c.Meta()
	var (
		worst    check.Severity
		broken   bool
		problems []string
		evidence []string
		first    string
	)
	for _, h := range hooks {
		if len(h.bundle) == 0 {
			continue // the system's roots verify it: nothing of the cluster's to judge
		}
		e, certs, ok := bundleStanding(h.bundle, s.CollectedAt)
		if !ok {
			continue
		}
		severity := e.severity
		if e.broken && h.ignore {
			severity = check.High
		}
		consequence := "requests it intercepts are rejected (failurePolicy Fail)"
		if h.ignore {
			consequence = "it is skipped and its policy not enforced (failurePolicy Ignore)"
		}
		if !e.broken {
			consequence = "once it expires, " + consequence
		}
		problems = append(problems, h.name)
		if len(problems) > 1 {
			// The first is the message; the others are told here.
			evidence = append(evidence, fmt.Sprintf("webhook %s: the caBundle %s; %s", h.name, e.text, consequence))
		}
		for _, line := range certs {
			evidence = append(evidence, "webhook "+h.name+": "+line)
		}
		if first == "" {
			first = fmt.Sprintf("the caBundle of webhook %s %s: %s", h.name, e.text, consequence)
		}
		if worst == "" || severity.Rank() < worst.Rank() {
			worst = severity
		}
		broken = broken || e.broken
	}
	if len(problems) == 0 {
		return nil
	}
	message := fmt.Sprintf("%s: %s", ref.Describe(), first)
	if len(problems) > 1 {
		message = fmt.Sprintf("%s: the caBundles of %d webhooks (%s) fail or expire soon; first, %s", ref.Describe(),
			len(problems), strings.Join(problems, ", "), first)
	}
	f := check.New(meta, message, ref)
	f.Severity = worst
	f.Incident = broken
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = bundleFix(ref, "{range .webhooks[*]}{.name}{\"\\t\"}{.clientConfig.service.namespace}/{.clientConfig.service.name}{\"\\t\"}{.clientConfig.url}{\"\\n\"}{end}")
	return []check.Finding{f}
}

// bundleFix shows where the object's CA comes from, and how to see the dates.
func bundleFix(ref snapshot.Ref, backends string) []string {
	return []string{
		fmt.Sprintf("kubectl get %s -o jsonpath=%s   # what it calls", check.Target(ref), check.Quote(backends)),
		fmt.Sprintf("kubectl get %s -o yaml | grep -i -e 'inject-ca-from' -e 'caBundle'   # who injects the CA (cert-manager's cainjector annotation)", check.Target(ref)),
		check.Comment("renew the serving certificate and CA of the Service it calls, then update caBundle (or restart the injector)"),
	}
}

// APIServiceCABundle judges the CA bundles the API server verifies aggregated APIs with.
type APIServiceCABundle struct{}

func (APIServiceCABundle) Meta() check.Meta {
	return check.Meta{
		ID:       "certificates-apiservice-ca-bundle",
		Title:    "An aggregated API's CA bundle has expired or expires soon",
		Category: check.CategoryCertificates,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindAPIServices},
		Description: "Parses spec.caBundle of every APIService backed by a Service (insecureSkipTLSVerify ones are not " +
			"verified, so not judged) and reports a bundle that has expired, is not valid yet, cannot be read, or expires " +
			"within 30 days: critical within 7, high within 30. A bundle holding several CAs is judged by its " +
			"longest-lived. Works on manifests too.",
		Why: "The API server cannot verify the aggregated API's server: the APIService turns Unavailable, its API group " +
			"(metrics.k8s.io for kubectl top and autoscaling, for one) stops answering, discovery reports it failed, and " +
			"namespace deletion can hang on it.",
		Remediation: "Renew the aggregated API server's certificate and CA, and put the new CA in spec.caBundle (re-run " +
			"the chart or operator that installed it, or cert-manager's cainjector).",
		References: []string{
			"https://kubernetes.io/docs/tasks/extend-kubernetes/configure-aggregation-layer/",
			"https://cert-manager.io/docs/concepts/ca-injector/",
		},
	}
}

func (c APIServiceCABundle) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.APIServices {
		a := &s.APIServices[i]
		if a.Spec.Service == nil || a.Spec.InsecureSkipTLSVerify || len(a.Spec.CABundle) == 0 {
			continue
		}
		e, certs, ok := bundleStanding(a.Spec.CABundle, s.CollectedAt)
		if !ok {
			continue
		}
		ref := snapshot.RefTo(snapshot.KindAPIServices, "", a.Name)
		consequence := "the API group " + a.Spec.Group + "/" + a.Spec.Version + " is unavailable"
		if !e.broken {
			consequence = "once it expires, " + consequence
		}
		f := check.New(meta, fmt.Sprintf("%s: the caBundle %s: %s", ref.Describe(), e.text, consequence), ref)
		f.Severity = e.severity
		f.Incident = e.broken
		f.Scope = check.ScopeCluster
		f.Evidence = append(f.Evidence, fmt.Sprintf("backed by service %s/%s", a.Spec.Service.Namespace, a.Spec.Service.Name))
		f.Evidence = check.LimitEvidence(append(f.Evidence, certs...))
		f.Fix = slices.Concat([]string{fmt.Sprintf("kubectl get %s -o jsonpath='{.status.conditions}'   # Available, and why not", check.Target(ref))},
			bundleFix(ref, "{.spec.service.namespace}/{.spec.service.name}"))
		findings = append(findings, f)
	}
	return findings
}
