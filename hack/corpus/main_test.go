package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// Every disagreement with the corpus is a deliberate choice, named here with its reason; a new
// disagreement (or a fixed one) fails this test.
func TestDisagreementsAreDeliberate(t *testing.T) {
	dir := filepath.Join(testcluster.RepoRoot(), "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no ../shared/corpus beside the repository")
	}
	verdicts, err := Measure(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Each deliberate difference, with the reason alertmend decides otherwise.
	deliberate := map[string]string{
		"regolibrary/rule-can-modify-admission-webhooks/clusterrole-rolebinding":                                                          "a RoleBinding never grants a cluster-scoped resource (webhook configurations, nodes/proxy, CSRs): the authorizer consults RoleBindings only for requests in a namespace",
		"regolibrary/rule-can-modify-admission-webhooks/role-rolebinding":                                                                 "a RoleBinding never grants a cluster-scoped resource (webhook configurations, nodes/proxy, CSRs): the authorizer consults RoleBindings only for requests in a namespace",
		"regolibrary/rule-can-access-proxy-subresource/clusterrole-rolebinding":                                                           "a RoleBinding never grants a cluster-scoped resource (webhook configurations, nodes/proxy, CSRs): the authorizer consults RoleBindings only for requests in a namespace",
		"regolibrary/rule-can-access-proxy-subresource/role-rolebinding":                                                                  "a RoleBinding never grants a cluster-scoped resource (webhook configurations, nodes/proxy, CSRs): the authorizer consults RoleBindings only for requests in a namespace",
		"regolibrary/rule-can-approve-cert-signing-request/clusterrole-rolebinding":                                                       "a RoleBinding never grants a cluster-scoped resource (webhook configurations, nodes/proxy, CSRs): the authorizer consults RoleBindings only for requests in a namespace",
		"regolibrary/rule-can-approve-cert-signing-request/role-rolebinding":                                                              "a RoleBinding never grants a cluster-scoped resource (webhook configurations, nodes/proxy, CSRs): the authorizer consults RoleBindings only for requests in a namespace",
		"polaris/clusterrolePodExecAttach/failure.all_wildcards.yaml":                                                                     "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.attach_explicit.yaml":                                                                   "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.attach_using_verb_wildcard.yaml":                                                        "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.create_attach_and_exec_using_resource_wildcard.yaml":                                    "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.create_attach_using_apigroup_wildcard.yaml":                                             "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.create_exec_using_apigroup_wildcard.yaml":                                               "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.exec_explicit.yaml":                                                                     "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.exec_verb_wildcard.yaml":                                                                "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.get_attach_and_exec_using_resource_wildcard.yaml":                                       "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.get_attach_using_apigroup_wildcard.yaml":                                                "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolePodExecAttach/failure.get_exec_using_apigroup_wildcard.yaml":                                                  "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/clusterrolebindingClusterAdmin/failure.default_clusteradmin_clusterrole.yaml":                                            "a role is judged by its rules, not its name: this cluster-admin only gets deployments",
		"polaris/clusterrolebindingClusterAdmin/success.gce_calico_binding.yaml":                                                          "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/clusterrolebindingClusterAdmin/success.system_prefix_binding.yaml":                                                       "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/clusterrolebindingPodExecAttach/failure.binding_points_to_missing_ref.yaml":                                              "a binding to a missing role grants nothing today; rbac-dangling-binding reports it",
		"polaris/clusterrolebindingPodExecAttach/success.defaultclusterrolebinding_clusteradmin.yaml":                                     "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/clusterrolebindingPodExecAttach/success.defaultclusterrolebinding_system-controller-generic-garbage-collector.yaml":      "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/clusterrolebindingPodExecAttach/success.gce_calico_binding.yaml":                                                         "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/clusterrolebindingPodExecAttach/success.system_prefix_binding.yaml":                                                      "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolePodExecAttach/failure.all_wildcards.yaml":                                                                            "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.attach_explicit.yaml":                                                                          "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.attach_using_verb_wildcard.yaml":                                                               "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.create_attach_and_exec_using_resource_wildcard.yaml":                                           "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.create_attach_using_apigroup_wildcard.yaml":                                                    "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.create_exec_using_apigroup_wildcard.yaml":                                                      "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.exec_explicit.yaml":                                                                            "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.exec_verb_wildcard.yaml":                                                                       "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.get_attach_and_exec_using_resource_wildcard.yaml":                                              "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.get_attach_using_apigroup_wildcard.yaml":                                                       "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolePodExecAttach/failure.get_exec_using_apigroup_wildcard.yaml":                                                         "permissions are judged per subject: a role that no binding grants gives nothing to anyone (rbac-wildcard-role reports wildcard roles themselves)",
		"polaris/rolebindingClusterAdminClusterRole/failure.default_clusteradmin_clusterrole.yaml":                                        "a role is judged by its rules, not its name: this cluster-admin only gets deployments",
		"polaris/rolebindingClusterAdminClusterRole/success.gce_calico_binding.yaml":                                                      "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingClusterAdminClusterRole/success.system_prefix_binding.yaml":                                                   "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingClusterAdminRole/success.gce_calico_binding.yaml":                                                             "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingClusterAdminRole/success.system_prefix_binding.yaml":                                                          "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingClusterRolePodExecAttach/failure.binding_points_to_missing_ref.yaml":                                          "a binding to a missing role grants nothing today; rbac-dangling-binding reports it",
		"polaris/rolebindingClusterRolePodExecAttach/success.gce_calico_binding.yaml":                                                     "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingClusterRolePodExecAttach/success.system_prefix_binding.yaml":                                                  "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingRolePodExecAttach/failure.binding_points_to_missing_ref.yaml":                                                 "a binding to a missing role grants nothing today; rbac-dangling-binding reports it",
		"polaris/rolebindingRolePodExecAttach/success.gce_calico_binding.yaml":                                                            "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"polaris/rolebindingRolePodExecAttach/success.role_binding_cluster_role_binding.yaml":                                             "one check covers exec through every kind of binding; polaris splits it by binding kind",
		"polaris/rolebindingRolePodExecAttach/success.system_prefix_binding.yaml":                                                         "a binding is a default by the API server's bootstrap label, not by its name: anyone can name a binding system:* or gce:*",
		"regolibrary/exec-into-container-v1/clusterrole":                                                                                  "pods/* is no wildcard to the RBAC authorizer: it matches only a subresource literally named *",
		"regolibrary/rule-can-portforward-v1/clusterrole-clusterrolebinding":                                                              "pods/* is no wildcard to the RBAC authorizer: it matches only a subresource literally named *",
		"regolibrary/rule-excessive-delete-rights-v1/role-rolebinding":                                                                    "deleting one object at a time is ordinary; only deletecollection and * delete at scale",
		"regolibrary/rule-list-all-cluster-admins-v1/clusterrole-rolebinding":                                                             "cluster-admin means every API group; * on the core group alone is reported by what it allows (Secrets, exec, pod creation)",
		"polaris/missingNetworkPolicy/failure.netpol_missing_egress_rules.yaml":                                                           "a policy that isolates a direction and has no rules for it denies all of it: the pod is isolated, not missing a policy",
		"polaris/missingNetworkPolicy/failure.netpol_missing_ingress_rules.yaml":                                                          "a policy that isolates a direction and has no rules for it denies all of it: the pod is isolated, not missing a policy",
		"regolibrary/ensure_network_policy_configured_in_labels/success_pod_ccnp_empty_selector":                                          "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ensure_network_policy_configured_in_labels/success_pod_ccnp_specs_list":                                              "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ensure_network_policy_configured_in_labels/success_pod_cilium_empty_selector":                                        "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ensure_network_policy_configured_in_labels/success_pod_cilium_label_match":                                           "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ensure_network_policy_configured_in_labels/success_pod_cilium_specs_list":                                            "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/ccnp-ingress-egress":                                                                      "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/ccnp-specs-list-passed":                                                                   "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cnp-empty-selector":                                                                       "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cnp-endpoint-selector-match":                                                              "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cnp-ingress-egress":                                                                       "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cnp-only-egress":                                                                          "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cnp-specs-list-passed":                                                                    "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cnp-specs-multiple-passed":                                                                "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/cronjob":                                                                                  "host-network pods are not subject to NetworkPolicy; reporting them as unisolated would be a false positive",
		"regolibrary/ingress-and-egress-blocked/mixed-np-cnp":                                                                             "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy",
		"regolibrary/ingress-and-egress-blocked/only-egress-policy":                                                                       "ingress and egress isolation are judged and reported separately: an egress policy leaves ingress open",
		"regolibrary/internal-networking/namespace-ccnp-match-expressions-selective-failed":                                               "Cilium's own policy kinds (CiliumNetworkPolicy) are not read: alertmend judges Kubernetes NetworkPolicy; and a namespace without workloads has nothing to protect",
		"regolibrary/internal-networking/namespace-failed":                                                                                "a namespace without workloads has nothing to protect: no default deny is asked of it",
		"polaris/cpuLimitsMissing/failure.yaml":                                                                                           "no CPU limit check: CPU limits throttle even on idle nodes",
		"regolibrary/resources-memory-requests/pod-only-requests":                                                                         "a limit without a request is not a missing request: the API server copies the limit",
		"regolibrary/resources-cpu-requests/pod-only-requests":                                                                            "a limit without a request is not a missing request: the API server copies the limit",
		"regolibrary/resources-memory-limit-and-request/pod-only-requests":                                                                "a limit without a request is not a missing request: the API server copies the limit",
		"regolibrary/resources-cpu-limit-and-request/pod-only-limits":                                                                     "no CPU limit check: CPU limits throttle even on idle nodes",
		"regolibrary/resources-cpu-limit-and-request/pod-only-requests":                                                                   "a limit without a request is not a missing request: the API server copies the limit",
		"regolibrary/resources-cpu-limits/cronjob":                                                                                        "no CPU limit check: CPU limits throttle even on idle nodes",
		"regolibrary/resources-cpu-limits/pod":                                                                                            "no CPU limit check: CPU limits throttle even on idle nodes",
		"regolibrary/resources-cpu-limits/pod-only-limits":                                                                                "no CPU limit check: CPU limits throttle even on idle nodes",
		"regolibrary/resources-cpu-limits/workload":                                                                                       "no CPU limit check: CPU limits throttle even on idle nodes",
		"regolibrary/anonymous-access-enabled/fail":                                                                                       "the default system:public-info-viewer binding is information, not a finding",
		"regolibrary/ensure-that-the-admission-control-plugin-AlwaysPullImages-is-set/failed":                                             "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-admission-control-plugin-AlwaysPullImages-is-set/rke2-args-fail":                                     "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-admission-control-plugin-EventRateLimit-is-set/failed":                                               "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-admission-control-plugin-EventRateLimit-is-set/rke2-args-fail":                                       "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-admission-control-plugin-NamespaceLifecycle-is-set/passed":                                           "one check covers both plugins: this pod disables the other one",
		"regolibrary/ensure-that-the-admission-control-plugin-SecurityContextDeny-is-set-if-PodSecurityPolicy-is-not-used/failed":         "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-admission-control-plugin-SecurityContextDeny-is-set-if-PodSecurityPolicy-is-not-used/rke2-args-fail": "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-admission-control-plugin-ServiceAccount-is-set/passed":                                               "one check covers both plugins: this pod disables the other one",
		"regolibrary/ensure-that-the-api-server-DenyServiceExternalIPs-is-not-set/failed":                                                 "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-api-server-DenyServiceExternalIPs-is-not-set/rke2-args-fail":                                         "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-api-server-DenyServiceExternalIPs-is-set/failed":                                                     "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-api-server-DenyServiceExternalIPs-is-set/rke2-args-fail":                                             "an optional admission plugin, a policy choice rather than a flaw",
		"regolibrary/ensure-that-the-api-server-audit-log-maxage-argument-is-set-to-30-or-as-appropriate/failed":                          "retention is judged only where an audit log file is written; a missing log is apiserver-audit-log",
		"regolibrary/ensure-that-the-api-server-audit-log-maxage-argument-is-set-to-30-or-as-appropriate/rke2-args-fail":                  "retention is judged only where an audit log file is written; a missing log is apiserver-audit-log",
		"regolibrary/ensure-that-the-api-server-audit-log-maxbackup-argument-is-set-to-10-or-as-appropriate/failed":                       "retention is judged only where an audit log file is written; a missing log is apiserver-audit-log",
		"regolibrary/ensure-that-the-api-server-audit-log-maxbackup-argument-is-set-to-10-or-as-appropriate/rke2-args":                    "retention is judged only where an audit log file is written; a missing log is apiserver-audit-log",
		"regolibrary/ensure-that-the-api-server-audit-log-maxsize-argument-is-set-to-100-or-as-appropriate/failed":                        "retention is judged only where an audit log file is written; a missing log is apiserver-audit-log",
		"regolibrary/ensure-that-the-api-server-audit-log-maxsize-argument-is-set-to-100-or-as-appropriate/rke2-args":                     "retention is judged only where an audit log file is written; a missing log is apiserver-audit-log",
		"regolibrary/ensure-that-the-api-server-request-timeout-argument-is-set-as-appropriate/failed":                                    "only an excessive --request-timeout (over 5m) is reported",
		"regolibrary/ensure-that-the-api-server-request-timeout-argument-is-set-as-appropriate/rke2-args-fail":                            "only an excessive --request-timeout (over 5m) is reported",
		"regolibrary/ensure-that-the-api-server-secure-port-argument-is-not-set-to-0/failed":                                              "a repeated flag is read as kube-apiserver reads it: the last occurrence wins",
	}
	// The Pod Security and workload hygiene rules' cases, pinned where the corpus holds their
	// rules (../shared/corpus may not: make corpus -corpus DIR measures another copy).
	podSecurity := podSecurityDeliberate()
	for c, why := range hygieneDeliberate() {
		podSecurity[c] = why
	}
	for c, why := range podSecurity {
		source, rest, _ := strings.Cut(c, "/")
		rule, _, _ := strings.Cut(rest, "/")
		if _, err := os.Stat(filepath.Join(dir, source, rule)); err == nil {
			deliberate[c] = why
		}
	}
	var differ []string
	for _, v := range verdicts {
		if !v.Agree {
			differ = append(differ, v.Case)
		}
	}
	var want []string
	for c := range deliberate {
		want = append(want, c)
	}
	sort.Strings(want)
	sort.Strings(differ)
	if !reflect.DeepEqual(differ, want) {
		var b strings.Builder
		Report(&b, verdicts)
		t.Errorf("disagreements:\n got  %q\n want %q\n%s", differ, want, b.String())
	}
	if len(verdicts) < 30 {
		t.Errorf("only %d cases measured; is the corpus complete?", len(verdicts))
	}
}

// podSecurityDeliberate are the Pod Security cases alertmend decides otherwise, each with the
// reason: the checks judge as the standard and its admission plugin do, control by control.
func podSecurityDeliberate() map[string]string {
	dropAll := "restricted asks every container to drop ALL, written so: a list of capabilities, or All, does not meet it"
	seccomp := "restricted asks for a RuntimeDefault or Localhost seccomp profile whatever AppArmor, SELinux or capabilities do, and refuses a pod-level Unconfined even where containers set their own"
	localhost := "a Localhost seccomp profile meets the standard as RuntimeDefault does"
	selinux := "SELinux options are judged by the values the standard forbids (another type, a user, a role); leaving them unset is allowed"
	noWorkloads := "a namespace is asked for an enforce label only when it runs workloads"
	notRestricted := "restricted is not asked of every namespace: the fix labels the strictest level its workloads meet"
	return map[string]string{
		"polaris/insecureCapabilities/success.all.yaml":                                                dropAll,
		"polaris/insecureCapabilities/success.case.yaml":                                               dropAll,
		"polaris/insecureCapabilities/success.pod.yaml":                                                dropAll,
		"polaris/insecureCapabilities/success.yaml":                                                    dropAll,
		"polaris/runAsRootAllowed/failure.yaml":                                                        "a Deployment in apiVersion v1 is no kind the API server serves: the loader skips it",
		"polaris/linuxHardening/success.apparmor_2_containers.yaml":                                    seccomp,
		"polaris/linuxHardening/success.drop_capabilities.yaml":                                        seccomp,
		"polaris/linuxHardening/success.seccomp_profile_unconfined_for_pod_but_set_for_container.yaml": seccomp,
		"polaris/linuxHardening/success.selinux_container.yaml":                                        seccomp,
		"polaris/linuxHardening/success.selinux_pod.yaml":                                              seccomp,
		"regolibrary/set-procmount-default/workload":                                                   "an unset procMount is the default mount, which the standard allows",
		"regolibrary/set-seLinuxOptions/cronjob":                                                       selinux,
		"regolibrary/set-seLinuxOptions/pod":                                                           selinux,
		"regolibrary/set-seLinuxOptions/workloads":                                                     selinux,
		"regolibrary/set-seccomp-profile-RuntimeDefault/pod":                                           localhost,
		"regolibrary/set-seccomp-profile-RuntimeDefault/workloads":                                     localhost,
		"regolibrary/pod-security-admission-applied-1/test":                                            noWorkloads,
		"regolibrary/pod-security-admission-baseline-applied-1/test":                                   noWorkloads,
		"regolibrary/pod-security-admission-baseline-applied-1/test2":                                  noWorkloads,
		"regolibrary/pod-security-admission-baseline-applied-2/test":                                   noWorkloads,
		"regolibrary/pod-security-admission-baseline-applied-2/test2":                                  noWorkloads,
		"regolibrary/pod-security-admission-restricted-applied-1/test":                                 notRestricted,
		"regolibrary/pod-security-admission-restricted-applied-1/test2":                                notRestricted,
		"regolibrary/pod-security-admission-restricted-applied-2/test":                                 notRestricted,
		"regolibrary/pod-security-admission-restricted-applied-2/test2":                                notRestricted,
	}
}

// hygieneDeliberate are the workload hygiene cases alertmend decides otherwise, each with the reason.
func hygieneDeliberate() map[string]string {
	noPDB := "a workload without a PodDisruptionBudget is not reported: a budget only helps where replicas can be spared, " +
		"and pdb-blocks-eviction reports the budgets that block every drain"
	return map[string]string{
		"polaris/readinessProbeMissing/failure.yaml": "a readiness probe is asked only of containers a Service sends traffic to: " +
			"this pod is behind no Service, where readiness gates nothing",
		"polaris/livenessProbeMissing/failure.yaml": "no liveness probe is asked for: a process that exits is restarted without one, " +
			"and a liveness probe that asks too much restarts healthy pods (liveness-probe-same-as-readiness, liveness-probe-kills-startup)",
		"polaris/missingPodDisruptionBudget/failure-bad-ns.yaml":       noPDB,
		"polaris/missingPodDisruptionBudget/failure.bad-name.yaml":     noPDB,
		"polaris/missingPodDisruptionBudget/failure.empty-labels.yaml": noPDB,
		"polaris/missingPodDisruptionBudget/failure.no-labels.yaml":    noPDB,
		"polaris/missingPodDisruptionBudget/failure.no-metadata.yaml":  noPDB,
		"polaris/missingPodDisruptionBudget/failure.wrong-place.yaml":  noPDB,
		"polaris/missingPodDisruptionBudget/failure.yaml":              noPDB,
		"polaris/deploymentMissingReplicas/failure.yaml": "a single replica is not reported by itself (it is a choice, and an " +
			"autoscaler may own the count); replicas-not-spread and pdb-blocks-eviction judge replicas where they fail",
	}
}
