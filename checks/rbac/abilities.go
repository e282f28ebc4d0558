package rbac

import (
	"slices"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// isFullAdmin is a grant whose rule allows every verb, or at least every read and write, on every
// resource of every group: cluster-admin, or its equivalent (reading every Secret and creating
// any pod is taking over the cluster, escalate and bind or not).
func isFullAdmin(g snapshot.Grant) bool {
	rule := g.Rule
	readWrite := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	allVerbs := slices.Contains(rule.Verbs, "*") || !slices.ContainsFunc(readWrite, func(v string) bool { return !slices.Contains(rule.Verbs, v) })
	return allVerbs && slices.Contains(rule.Resources, "*") && slices.Contains(rule.APIGroups, "*") && len(rule.ResourceNames) == 0
}

// abilityIDs are the checks whose findings a cluster-admin finding for the same subject and
// binding already says.
func abilityIDs() []string {
	return []string{"rbac-secrets-read", "rbac-create-workloads", "rbac-pod-exec", "rbac-impersonate", "rbac-escalate-bind",
		"rbac-token-create", "rbac-nodes-proxy", "rbac-csr-approve", "rbac-webhook-write", "rbac-delete-collection"}
}

// Abilities lists the checks of dangerous permissions, each judged per subject.
func Abilities() []check.Check {
	meta := func(id, title string, severity check.Severity, description, why, remediation string) check.Meta {
		return check.Meta{ID: id, Title: title, Category: check.CategoryRBAC, Severity: severity, Requires: rbacKinds(),
			WholeCluster: true, Description: description + defaultsPolicy, Why: why, Remediation: remediation,
			References: []string{reference}}
	}
	// Creating a controller, or rewriting its pod template, runs any code as any ServiceAccount
	// of the namespace; so does adding an ephemeral container to a running pod.
	workloads := append(append(on("", verbs("create"), "pods"), on("", verbs("create", "update", "patch"), "replicationcontrollers", "pods/ephemeralcontainers")...),
		append(on("apps", verbs("create", "update", "patch"), "deployments", "daemonsets", "statefulsets", "replicasets"),
			on("batch", verbs("create", "update", "patch"), "jobs", "cronjobs")...)...)
	clusterAdmin := meta("rbac-cluster-admin", "Subjects hold cluster-admin or its equivalent", check.Critical,
		"Finds subjects granted every verb (or at least get, list, watch, create, update, patch and delete) on "+
			"every resource of every API group (cluster-admin, or a role with the same rules): critical "+
			"cluster-wide, high through a RoleBinding (all of one namespace).",
		"Whoever holds it, or steals its credentials, owns the cluster: every Secret, every workload, every node.",
		"Bind a role with only the permissions needed; keep cluster-admin for break-glass accounts.")
	// Everything else this subject can do through the same binding goes without saying.
	clusterAdmin.Supersedes = abilityIDs()
	return []check.Check{
		ability{
			meta: clusterAdmin,
			ways: oneRequest(isFullAdmin), severity: byScope(check.Critical, check.High),
			consequence: "holds every permission (cluster-admin or equivalent)",
		},
		ability{
			meta: meta("rbac-secrets-read", "Subjects can read Secrets cluster-wide or in kube-system", check.High,
				"Finds subjects allowed get, list or watch on secrets across all namespaces (ClusterRoleBinding) or in "+
					"kube-system, where the control plane's and add-ons' credentials live. Rules restricted to "+
					"resourceNames are not counted: they name what may be read.",
				"Secrets hold service account tokens, TLS keys and passwords: reading them is a short path to every "+
					"other permission, including cluster-admin tokens.",
				"Grant Secret access per namespace and, where possible, per name (resourceNames)."),
			ways: oneRequest(func(g snapshot.Grant) bool {
				return slices.ContainsFunc(on("", verbs("get", "list", "watch"), "secrets"), func(r scoped) bool {
					return snapshot.RuleAllows(*g.Rule, r.Request) // resourceNames narrow what is read: not counted
				})
			}),
			severity: func(g snapshot.Grant) check.Severity {
				if g.Namespace == "" || g.Namespace == "kube-system" {
					return check.High
				}
				return ""
			},
			consequence: "can read Secrets cluster-wide or in kube-system",
		},
		ability{
			meta: meta("rbac-create-workloads", "Subjects can create pods or workload controllers", check.Medium,
				"Finds subjects allowed to create pods, or controllers that create them (Deployments, DaemonSets, "+
					"StatefulSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers): high cluster-wide, medium in a namespace.",
				"Creating a pod is running code as any ServiceAccount of its namespace and mounting its token, "+
					"and, without Pod Security admission, mounting the node's filesystem.",
				"Limit workload creation to deployers, and enforce Pod Security admission (baseline or restricted) in the namespace."),
			ways: oneRequest(requests(workloads...)), severity: byScope(check.High, check.Medium),
			consequence: "can create pods or workload controllers",
		},
		ability{
			meta: meta("rbac-pod-exec", "Subjects can exec into, attach to or port-forward pods", check.High,
				"Finds subjects allowed create or get on pods/exec, pods/attach or pods/portforward (before "+
					"Kubernetes 1.35, get alone suffices over WebSockets).",
				"Exec runs commands inside a running container, with its service account token and its data.",
				"Grant exec only to operators who need it, and only in their namespaces."),
			ways:        oneRequest(requests(on("", verbs("create", "get"), "pods/exec", "pods/attach", "pods/portforward")...)),
			consequence: "can run commands in other pods (exec, attach or port-forward)",
		},
		ability{
			meta: meta("rbac-impersonate", "Subjects can impersonate users, groups or service accounts", check.Critical,
				"Finds subjects allowed the impersonate verb on users, groups, serviceaccounts, uids or userextras.",
				"Impersonating system:masters or any admin is holding their permissions.",
				"Remove impersonate, or restrict it to specific names with resourceNames."),
			ways: oneRequest(requests(append(append(clusterScoped(on("", verbs("impersonate"), "users", "groups")),
				on("", verbs("impersonate"), "serviceaccounts")...),
				clusterScoped(on("authentication.k8s.io", verbs("impersonate"), "uids", "userextras"))...)...)),
			severity:    byScope(check.Critical, check.High),
			consequence: "can impersonate other identities",
		},
		ability{
			meta: meta("rbac-escalate-bind", "Subjects can escalate or bind roles", check.Critical,
				"Finds subjects allowed the escalate or bind verb on roles or clusterroles: RBAC then no longer "+
					"stops them from granting what they do not hold.",
				"With bind, a subject can bind cluster-admin to itself; with escalate, it can write any rule into a role it may edit.",
				"Remove escalate and bind except for the controllers that manage RBAC."),
			ways: oneRequest(requests(append(append(on("rbac.authorization.k8s.io", verbs("escalate", "bind"), "roles"),
				on("rbac.authorization.k8s.io", verbs("bind"), "clusterroles")...),
				clusterScoped(on("rbac.authorization.k8s.io", verbs("escalate"), "clusterroles"))...)...)),
			severity:    byScope(check.Critical, check.High),
			consequence: "can escalate or bind roles beyond its own permissions",
		},
		ability{
			meta: meta("rbac-token-create", "Subjects can mint service account tokens", check.High,
				"Finds subjects allowed create on serviceaccounts/token: high for any account of a namespace (RoleBinding) "+
					"or of the cluster. A rule limited by resourceNames is judged by the accounts it names (in the "+
					"RoleBinding's namespace, or in any namespace): it is reported only when one of them can do more than "+
					"the holder, that is when some request a rule reaching that account (through its bindings and groups) "+
					"allows is allowed to the holder by none of its own grants where they apply; then at least high, and "+
					"as severe as the most dangerous other ability of this family that account holds.",
				"A minted token is the service account's identity, with all its permissions, for as long as the token lives.",
				"Remove create on serviceaccounts/token, or restrict it to the names that need it."),
			ways:        oneRequest(requests(on("", verbs("create"), "serviceaccounts/token")...)),
			weigh:       tokenWorth,
			consequence: "can create tokens for service accounts",
		},
		ability{
			meta: meta("rbac-nodes-proxy", "Subjects can reach kubelets through nodes/proxy", check.High,
				"Finds subjects allowed get or create on nodes/proxy.",
				"The kubelet API behind nodes/proxy can run commands in any pod on the node, bypassing pod-level RBAC and audit.",
				"Grant monitoring the narrower nodes/metrics and nodes/stats instead."),
			ways:        oneRequest(requests(clusterScoped(on("", verbs("get", "create"), "nodes/proxy"))...)),
			consequence: "can call kubelets' API through nodes/proxy",
		},
		ability{
			meta: meta("rbac-csr-approve", "Subjects can approve or sign certificate requests", check.High,
				"Finds subjects that can approve certificate signing requests (update or patch on "+
					"certificatesigningrequests/approval, and approve on a signer of certificates.k8s.io) or sign "+
					"them (update or patch on certificatesigningrequests/status, and sign on a signer), cluster-wide. "+
					"Both halves are needed, through any rules, roles and bindings of the same subject: one alone "+
					"changes no certificate.",
				"Approving a request for a system:masters client certificate is minting cluster-admin credentials.",
				"Leave approval to the controllers; restrict signers with resourceNames."),
			// The CertificateApproval and CertificateSigning admission plugins
			// (plugin/pkg/admission/certificates/approval and .../signing) admit an update of the
			// approval or status subresource only if the authorizer also allows the verb approve,
			// or sign, on the synthetic resource signers of certificates.k8s.io, named by the
			// request's signerName or its domain wildcard ("kubernetes.io/*"), asked with no
			// namespace: a RoleBinding never allows it. A patch is admitted as an update.
			ways: []way{
				{
					{what: "update certificatesigningrequests/approval", allows: requests(clusterScoped(on("certificates.k8s.io", verbs("update", "patch"), "certificatesigningrequests/approval"))...)},
					{what: "approve signers", allows: requests(clusterScoped(on("certificates.k8s.io", verbs("approve"), "signers"))...)},
				},
				{
					{what: "update certificatesigningrequests/status", allows: requests(clusterScoped(on("certificates.k8s.io", verbs("update", "patch"), "certificatesigningrequests/status"))...)},
					{what: "sign signers", allows: requests(clusterScoped(on("certificates.k8s.io", verbs("sign"), "signers"))...)},
				},
			},
			consequence: "can approve or sign certificate signing requests",
		},
		ability{
			meta: meta("rbac-webhook-write", "Subjects can write admission webhooks", check.High,
				"Finds subjects allowed to create, update, patch or delete mutating or validating webhook configurations.",
				"A mutating webhook sees and may rewrite every object written to the cluster, Secrets included; "+
					"deleting a validating one switches policy off.",
				"Leave webhook configuration to the operators that own them."),
			ways: oneRequest(requests(clusterScoped(on("admissionregistration.k8s.io", verbs("create", "update", "patch", "delete"),
				"mutatingwebhookconfigurations", "validatingwebhookconfigurations"))...)),
			consequence: "can write admission webhook configurations",
		},
		ability{
			meta: meta("rbac-delete-collection", "Subjects can delete at scale", check.Medium,
				"Finds rules with the deletecollection verb, or every verb (*), on any resource: one request empties "+
					"a namespace's pods, Secrets or ConfigMaps.",
				"A mistaken or malicious request deletes everything of a kind at once.",
				"Grant delete on the resources needed, not deletecollection or *."),
			ways: oneRequest(func(g snapshot.Grant) bool {
				// Collections have no names, and a subresource is no collection.
				rule := g.Rule
				return len(rule.ResourceNames) == 0 && (slices.Contains(rule.Verbs, "deletecollection") || slices.Contains(rule.Verbs, "*")) &&
					slices.ContainsFunc(rule.Resources, func(r string) bool { return !strings.Contains(r, "/") })
			}),
			consequence: "can delete whole collections of resources at once",
		},
	}
}
