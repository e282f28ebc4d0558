package podsecurity

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	opts := DefaultOptions()
	olderCluster := func(s *snapshot.Snapshot) { s.ServerVersion = "v1.28.3" }
	fixture.RunCases(t, check.CategorySecurity, Checks(opts), []fixture.Case{
		{Check: Baseline{opts}, Fixture: "pod-security-baseline.yaml", Want: []string{
			"high pod-security-baseline shop/deployment/cart",
			"high pod-security-baseline shop/pod/debug",
			"high pod-security-baseline shop/pod/debugged",
			"high pod-security-baseline shop/cronjob/report",
			"high pod-security-baseline shop/job/migrate",
			"high pod-security-baseline shop/replicationcontroller/legacy",
			"high pod-security-baseline locked/statefulset/db",
			"info pod-security-baseline kube-system/daemonset/calico-node,kube-system/daemonset/kube-proxy",
		}},
		// Without system namespaces, the cluster's components are judged one by one; with shop
		// among them, shop's workloads join the calm finding.
		{Check: Baseline{Options{}}, Fixture: "pod-security-baseline.yaml", Want: []string{
			"high pod-security-baseline shop/deployment/cart",
			"high pod-security-baseline shop/pod/debug",
			"high pod-security-baseline shop/pod/debugged",
			"high pod-security-baseline shop/cronjob/report",
			"high pod-security-baseline shop/job/migrate",
			"high pod-security-baseline shop/replicationcontroller/legacy",
			"high pod-security-baseline locked/statefulset/db",
			"high pod-security-baseline kube-system/daemonset/kube-proxy",
			"high pod-security-baseline kube-system/daemonset/calico-node",
		}},
		{Check: Baseline{Options{SystemNamespaces: []string{"kube-system", "shop"}}}, Fixture: "pod-security-baseline.yaml", Want: []string{
			"high pod-security-baseline locked/statefulset/db",
			"info pod-security-baseline kube-system/daemonset/calico-node,kube-system/daemonset/kube-proxy,shop/cronjob/report," +
				"shop/deployment/cart,shop/job/migrate,shop/pod/debug,shop/pod/debugged,shop/replicationcontroller/legacy",
		}},
		{Check: Restricted{opts}, Fixture: "pod-security-restricted.yaml", Want: []string{
			"low pod-security-restricted app/deployment/web",
			"low pod-security-restricted app/deployment/root",
			"low pod-security-restricted base/deployment/worker",
			"medium pod-security-restricted strict/deployment/api",
		}},
		{Check: NamespaceUnlabelled{opts}, Fixture: "namespace-pod-security-unlabelled.yaml", Want: []string{
			"medium namespace-pod-security-unlabelled namespace/plain",
			"medium namespace-pod-security-unlabelled namespace/open",
			"medium namespace-pod-security-unlabelled namespace/mid",
		}},
		{Check: EnforceDrift{}, Fixture: "pod-security-enforce-drift.yaml", Want: []string{
			"medium pod-security-enforce-drift strict/deployment/api",
			"medium pod-security-enforce-drift strict/deployment/fixed",
			"high pod-security-enforce-drift locked/pod/debug",
			"high pod-security-enforce-drift pinned/pod/tuned",
		}},
		// On a v1.28 API server, "latest" is v1.28, where the sysctl is not yet safe.
		{Check: EnforceDrift{}, Fixture: "pod-security-enforce-drift.yaml", Probes: olderCluster, Want: []string{
			"medium pod-security-enforce-drift strict/deployment/api",
			"medium pod-security-enforce-drift strict/deployment/fixed",
			"high pod-security-enforce-drift locked/pod/debug",
			"high pod-security-enforce-drift pinned/pod/tuned",
			"high pod-security-enforce-drift current/pod/tuned",
		}},
	})
}

func TestBaselineEvidenceAndPatches(t *testing.T) {
	findings := Baseline{DefaultOptions()}.Run(fixture.Load(t, "pod-security-baseline.yaml"))
	cart := fixture.Find(t, findings, "shop/deployment/cart")
	wantEvidence := []string{
		`would violate PodSecurity "baseline:latest": hostPath volumes (volume "host-logs"), privileged (container "app" must not set securityContext.privileged=true)`,
		"HostPath Volumes (baseline): spec.volumes[host-logs].hostPath=/var/log",
		"Privileged Containers (baseline): spec.containers[app].securityContext.privileged=true",
	}
	if !slices.Equal(cart.Evidence, wantEvidence) {
		t.Errorf("cart evidence:\n got  %q\n want %q", cart.Evidence, wantEvidence)
	}
	wantFix := `kubectl patch -n shop deployment/cart --patch-file=/dev/stdin <<'EOF'   # meets baseline; HOST_LOGS_CLAIM: a PersistentVolumeClaim for what volume host-logs held
spec:
  template:
    spec:
      containers:
      - name: app
        securityContext:
          privileged: false
      volumes:
      - hostPath: null
        name: host-logs
        persistentVolumeClaim:
          claimName: HOST_LOGS_CLAIM
EOF`
	if !slices.Equal(cart.Fix, []string{wantFix}) {
		t.Errorf("cart fix:\n got  %q\n want %q", cart.Fix, wantFix)
	}
	for object, want := range map[string]string{
		"shop/cronjob/report": `kubectl patch -n shop cronjob/report --patch-file=/dev/stdin <<'EOF'   # meets baseline
spec:
  jobTemplate:
    spec:
      template:
        spec:
          hostNetwork: null
EOF`,
		"shop/replicationcontroller/legacy": `kubectl patch -n shop replicationcontroller/legacy --patch-file=/dev/stdin <<'EOF'   # meets baseline
spec:
  template:
    spec:
      containers:
      - name: app
        ports:
        - containerPort: 8080
          hostPort: null
EOF`,
		"shop/job/migrate": `kubectl patch --local -f JOB_MANIFEST -o yaml --patch-file=/dev/stdin <<'EOF'   # a Job's pod template cannot change: patch the manifest of job shop/migrate (JOB_MANIFEST), then delete the Job and create it again; meets baseline
spec:
  template:
    spec:
      initContainers:
      - name: prepare
        securityContext:
          privileged: false
EOF`,
		"shop/pod/debug": `kubectl patch --local -f POD_MANIFEST -o yaml --patch-file=/dev/stdin <<'EOF'   # a pod cannot change in place: patch its manifest (POD_MANIFEST, from kubectl get -n shop pod/debug -o yaml), then delete the pod and create it again (kubectl replace --force -f); meets baseline
spec:
  hostPID: null
EOF`,
	} {
		if f := fixture.Find(t, findings, object); !slices.Equal(f.Fix, []string{want}) {
			t.Errorf("%s fix:\n got  %q\n want %q", object, f.Fix, want)
		}
	}
	// A pod is created again to change it, without its ephemeral containers: the API server
	// creates no pod with them.
	debugged := fixture.Find(t, findings, "shop/pod/debugged")
	if !slices.Contains(debugged.Evidence, "Privileged Containers (baseline): spec.ephemeralContainers[debugger].securityContext.privileged=true") ||
		len(debugged.Fix) != 1 || !strings.HasSuffix(debugged.Fix[0], "\nspec:\n  ephemeralContainers: null\nEOF") {
		t.Errorf("debugged: %q %q", debugged.Evidence, debugged.Fix)
	}
	db := fixture.Find(t, findings, "locked/statefulset/db")
	if !strings.Contains(db.Message, "namespace locked enforces baseline:latest: the API server refuses its new pods") {
		t.Errorf("db message %q does not say its pods are refused", db.Message)
	}
	system := fixture.Find(t, findings, "kube-system/daemonset/calico-node")
	if len(system.Fix) != 0 || !strings.Contains(system.Message, "2 workloads in system namespaces (kube-system)") ||
		!slices.Equal(system.Evidence, []string{
			`kube-system/daemonset/calico-node: host namespaces (hostNetwork=true), privileged (container "calico-node" must not set securityContext.privileged=true)`,
			`kube-system/daemonset/kube-proxy: host namespaces (hostNetwork=true), hostPath volumes (volume "lib-modules"), privileged (container "kube-proxy" must not set securityContext.privileged=true)`,
		}) {
		t.Errorf("system finding: %q %q %q", system.Message, system.Evidence, system.Fix)
	}
}

func TestRestrictedEvidenceAndPatches(t *testing.T) {
	findings := Restricted{DefaultOptions()}.Run(fixture.Load(t, "pod-security-restricted.yaml"))
	web := fixture.Find(t, findings, "app/deployment/web")
	wantEvidence := []string{
		"Privilege Escalation (restricted): spec.containers[app].securityContext.allowPrivilegeEscalation unset",
		"Capabilities (restricted): spec.containers[app].securityContext.capabilities.drop lacks ALL",
		"Running as Non-root (restricted): spec.securityContext.runAsNonRoot unset, and not set by container app",
		"Seccomp (restricted): spec.securityContext.seccompProfile.type unset, and not set by container app",
	}
	if !slices.Equal(web.Evidence[1:], wantEvidence) {
		t.Errorf("web evidence:\n got  %q\n want %q", web.Evidence[1:], wantEvidence)
	}
	wantFix := `kubectl patch -n app deployment/web --patch-file=/dev/stdin <<'EOF'   # meets restricted; the image must run as a user other than root (its USER, or runAsUser), or the kubelet will not start it
spec:
  template:
    spec:
      containers:
      - name: app
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
EOF`
	if !slices.Equal(web.Fix, []string{wantFix}) {
		t.Errorf("web fix:\n got  %q\n want %q", web.Fix, wantFix)
	}
	// Privileged too: the restricted patch also fixes what baseline refuses, and the evidence
	// does not repeat what the baseline finding names.
	root := fixture.Find(t, findings, "app/deployment/root")
	if len(root.Fix) != 1 || !strings.Contains(root.Fix[0], "privileged: false") {
		t.Errorf("root fix %q does not fix baseline's violation too", root.Fix)
	}
	for _, line := range root.Evidence[1:] {
		if strings.Contains(line, "privileged") {
			t.Errorf("root evidence repeats baseline's: %q", line)
		}
	}
	api := fixture.Find(t, findings, "strict/deployment/api")
	if !strings.Contains(api.Message, "namespace strict enforces restricted:latest: the API server refuses its new pods, so the next rollout, restart or reschedule fails") {
		t.Errorf("api message %q", api.Message)
	}
	// In manifests, the workload is yet to be applied: its pods are never admitted.
	s := fixture.Load(t, "pod-security-restricted.yaml")
	s.Source = snapshot.SourceManifests
	if api := fixture.Find(t, Restricted{DefaultOptions()}.Run(s), "strict/deployment/api"); !strings.HasSuffix(api.Message,
		"namespace strict enforces restricted:latest: the API server refuses its pods, so it never runs") {
		t.Errorf("api message from manifests %q", api.Message)
	}
}

func TestNamespaceFixesEnforceWhatTheWorkloadsMeet(t *testing.T) {
	findings := NamespaceUnlabelled{DefaultOptions()}.Run(fixture.Load(t, "namespace-pod-security-unlabelled.yaml"))
	for object, want := range map[string][]string{
		"namespace/plain": {
			"kubectl label --dry-run=server --overwrite namespace plain pod-security.kubernetes.io/enforce=restricted   # the API server warns about every pod the level would refuse",
			"kubectl label --overwrite namespace plain pod-security.kubernetes.io/enforce=restricted",
		},
		"namespace/mid": {
			"kubectl label --dry-run=server --overwrite namespace mid pod-security.kubernetes.io/enforce=baseline   # the API server warns about every pod the level would refuse",
			"kubectl label --overwrite namespace mid pod-security.kubernetes.io/enforce=baseline pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted",
		},
		"namespace/open": {
			"kubectl label --overwrite namespace open pod-security.kubernetes.io/warn=baseline pod-security.kubernetes.io/audit=baseline   # warns about each violating pod without refusing it; enforce baseline once the workloads above are fixed",
		},
	} {
		if f := fixture.Find(t, findings, object); !slices.Equal(f.Fix, want) {
			t.Errorf("%s fix:\n got  %q\n want %q", object, f.Fix, want)
		}
	}
	open := fixture.Find(t, findings, "namespace/open")
	if !strings.Contains(open.Message, "is labelled pod-security.kubernetes.io/enforce=privileged") ||
		!slices.Contains(open.Evidence, "baseline: 0 of 1 workloads meet it; not daemonset open/agent (privileged)") {
		t.Errorf("open: %q %q", open.Message, open.Evidence)
	}
	mid := fixture.Find(t, findings, "namespace/mid")
	if !slices.Contains(mid.Evidence, "labelled pod-security.kubernetes.io/warn=baseline: these report violations but refuse nothing") {
		t.Errorf("mid evidence %q", mid.Evidence)
	}
}

func TestDriftEvidenceAndFixes(t *testing.T) {
	findings := EnforceDrift{}.Run(fixture.Load(t, "pod-security-enforce-drift.yaml"))
	api := fixture.Find(t, findings, "strict/deployment/api")
	if !strings.HasPrefix(api.Message, "2 running pods of deployment strict/api would be refused by namespace strict's enforce level restricted:latest") {
		t.Errorf("api message %q", api.Message)
	}
	wantEvidence := []string{
		"Seccomp (restricted): spec.securityContext.seccompProfile.type unset, and not set by container app",
		`pod api-6f9c8d7b5-a1b2c: violates PodSecurity "restricted:latest": seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
		`pod api-6f9c8d7b5-d3e4f: violates PodSecurity "restricted:latest": seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
	}
	if !slices.Equal(api.Evidence, wantEvidence) {
		t.Errorf("api evidence:\n got  %q\n want %q", api.Evidence, wantEvidence)
	}
	want := `kubectl patch -n strict deployment/api --patch-file=/dev/stdin <<'EOF'   # meets restricted
spec:
  template:
    spec:
      securityContext:
        seccompProfile:
          type: RuntimeDefault
EOF`
	if !slices.Equal(api.Fix, []string{want}) {
		t.Errorf("api fix %q, want %q", api.Fix, want)
	}
	fixed := fixture.Find(t, findings, "strict/deployment/fixed")
	if len(fixed.Fix) != 1 || !strings.HasPrefix(fixed.Fix[0], "kubectl rollout restart -n strict deployment/fixed") {
		t.Errorf("fixed: %q", fixed.Fix)
	}
	tuned := fixture.Find(t, findings, "pinned/pod/tuned")
	if !strings.Contains(tuned.Evidence[len(tuned.Evidence)-1], `violates PodSecurity "baseline:v1.28": forbidden sysctls (net.ipv4.tcp_keepalive_time)`) {
		t.Errorf("tuned evidence %q", tuned.Evidence)
	}
}

// The enforce drift check folds the template findings about the same workload into its own, so
// one workload's one problem is one finding.
func TestDriftAbsorbsTheTemplateFindings(t *testing.T) {
	m := EnforceDrift{}.Meta()
	if !slices.Contains(m.Absorbs, Baseline{}.Meta().ID) || !slices.Contains(m.Absorbs, Restricted{}.Meta().ID) || !m.LiveOnly {
		t.Errorf("drift meta: %+v", m)
	}
}

// Every fix pastes whole: it is valid shell (sh -n reads it as the shell would), and its
// placeholders are UPPER_CASE words, never <...> that a shell would read as a redirection.
func TestFixesPasteWhole(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to read the fixes with")
	}
	angle := regexp.MustCompile(`<[A-Za-z_ -]+>`)
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range fixtures {
		s := fixture.Load(t, filepath.Base(name))
		var script []string
		for _, c := range Checks(DefaultOptions()) {
			for _, f := range c.Run(s) {
				for _, fix := range f.Fix {
					if angle.MatchString(fix) {
						t.Errorf("%s on %s: placeholder in %q", c.Meta().ID, name, fix)
					}
					script = append(script, fix)
				}
			}
		}
		// One shell reads them all: each is a whole command, so together they are a script.
		if out, err := exec.Command(sh, "-n", "-c", strings.Join(script, "\n")).CombinedOutput(); err != nil {
			t.Errorf("the fixes of %s are no valid shell: %v %s", name, err, out)
		}
	}
}
