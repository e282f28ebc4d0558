//go:build e2e

package cmd

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// deploy/rbac.yaml and deploy/cronjob.yaml, applied as written: the CronJob's own arguments, run
// as its ServiceAccount with nothing but what a pod has (no kubeconfig, KUBERNETES_SERVICE_HOST,
// a token file), give the administrator's report.
func TestDeployManifestsApplyAndRunInCluster(t *testing.T) {
	ctx := context.Background()
	applyDeployManifest(t, "cronjob.yaml")

	cronJob, err := cluster.Client.BatchV1().CronJobs("alertmend").Get(ctx, "alertmend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertCronJob(t, cronJob)
	container := cronJob.Spec.JobTemplate.Spec.Template.Spec.Containers[0]

	// What the kubelet gives the pod: a token of its ServiceAccount, the cluster's CA and the API
	// server's address. The test may write (TokenRequest); the tool only reads.
	token, err := cluster.Client.CoreV1().ServiceAccounts("alertmend").CreateToken(ctx, "alertmend",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	tokenFile, caFile := filepath.Join(secrets, "token"), filepath.Join(secrets, "ca.crt")
	if len(cluster.Config.CAData) == 0 {
		t.Fatal("the admin config has no CA data")
	}
	if err := os.WriteFile(tokenFile, []byte(token.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, cluster.Config.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	pod := newPodEnv(t, nil)
	pod.load = func() (*rest.Config, error) {
		// As rest.InClusterConfig builds it, from the variables and files the kubelet provides.
		host := "https://" + net.JoinHostPort(pod.vars["KUBERNETES_SERVICE_HOST"], pod.vars["KUBERNETES_SERVICE_PORT"])
		return &rest.Config{Host: host, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}, BearerTokenFile: tokenFile}, nil
	}
	noKubeconfig(t)

	ours := pod.run(t, container.Args...)
	if pod.loads == 0 {
		t.Fatal("the in-cluster configuration was never loaded")
	}
	theirs := admin(t, container.Args...)
	got, want := ours.report(t), theirs.report(t)
	// The CronJob's --fail-on=none (asserted above) leaves only not-evaluated checks to set the code.
	if ours.code != got.ExitCode("") || ours.code != theirs.code {
		t.Errorf("exit %d in the pod, %d as the administrator; the report implies %d\nstderr: %s", ours.code, theirs.code, got.ExitCode(""), ours.stderr)
	}
	if got.Metadata.Context != "in-cluster" || got.Metadata.Server != cluster.Server || got.Metadata.Namespace != "" {
		t.Errorf("metadata %+v, want context in-cluster, server %s, all namespaces", got.Metadata, cluster.Server)
	}
	assertSameReport(t, "diagnose", got, want)
	// Nor does the tool find fault with how it is deployed.
	for _, f := range got.Findings {
		for _, o := range f.Objects {
			if o.Namespace == "alertmend" || strings.HasPrefix(o.Name, "alertmend") {
				t.Errorf("%s about %s: %s", f.Check, o, f.Message)
			}
		}
	}

	// With the push the CronJob's comment describes, the run's metrics reach the gateway as
	// the cluster it was told it is.
	gateway := testcluster.RunPushgateway(t)
	pushed := pod.run(t, append(slices.Clone(container.Args), "--push-gateway="+gateway.URL, "--push-grouping=cluster=prod-eu")...)
	if pushed.code != ours.code {
		t.Errorf("with --push-gateway: exit %d, without %d\nstderr: %s", pushed.code, ours.code, pushed.stderr)
	}
	if families, err := gateway.Metrics(t.Context()); err != nil {
		t.Error(err)
	} else if runs := families["alertmend_checks_run"].GetMetric(); len(runs) != 1 || label(runs[0], "cluster") != "prod-eu" ||
		runs[0].GetGauge().GetValue() != float64(got.Summary.ChecksRun) {
		t.Errorf("alertmend_checks_run on the gateway: %v; the pod's report ran %d checks", runs, got.Summary.ChecksRun)
	}

	audit := pod.run(t, "rbac-audit", "-o", "json")
	if adminAudit := admin(t, "rbac-audit", "-o", "json"); audit.code != adminAudit.code {
		t.Errorf("rbac-audit: exit %d in the pod, %d as the administrator", audit.code, adminAudit.code)
	} else {
		assertSameReport(t, "rbac-audit", audit.report(t), adminAudit.report(t))
	}

	// --explain-permissions connects the same way, and the ServiceAccount is refused only what
	// the optional roles grant: every namespace's ConfigMaps and the node proxy.
	explained := pod.run(t, "diagnose", "--explain-permissions", "-o", "json")
	if pr := explained.permissions(t); explained.code != report.ExitOK || !slices.Equal(refused(pr), []string{"list configmaps in ", "get nodes/proxy in "}) {
		t.Errorf("--explain-permissions in the pod: exit %d, refused %q\nstderr: %s", explained.code, refused(pr), explained.stderr)
	}

	// A snapshot taken in the pod replays to the pod's findings, and records where it was taken.
	file := filepath.Join(t.TempDir(), "pod.alertmend.gz")
	if r := pod.run(t, "snapshot", "-o", file); r.code != report.ExitOK {
		t.Fatalf("snapshot in the pod: exit %d: %s", r.code, r.stderr)
	}
	replayed := run(t, testEnv{}, "diagnose", "--snapshot", file, "-o", "json").report(t)
	if replayed.Metadata.Context != "in-cluster" || !slices.Equal(findingKeys(replayed), findingKeys(got)) {
		t.Errorf("replayed snapshot: context %q, findings %q\nwant %q", replayed.Metadata.Context, findingKeys(replayed), findingKeys(got))
	}

	// --as still impersonates in the pod (client-go's own in-cluster fallback would drop it):
	// the ServiceAccount may not impersonate, so every list is refused for that reason.
	impersonated := pod.run(t, "diagnose", "--checks", "pod-crashloop", "--as", "jane", "-o", "json")
	if rep := impersonated.report(t); impersonated.code != report.ExitIncomplete || len(rep.NotEvaluated) != 1 ||
		!strings.Contains(rep.NotEvaluated[0].Reason, `User "system:serviceaccount:alertmend:alertmend" cannot impersonate`) {
		t.Errorf("--as jane in the pod: exit %d, not evaluated %+v", impersonated.code, rep.NotEvaluated)
	}
}

// assertCronJob holds the CronJob, as the API server stored it, to what deploy/cronjob.yaml
// promises: the schedule, one run at a time, no retries, a bounded pod, locked down.
func assertCronJob(t *testing.T, cj *batchv1.CronJob) {
	t.Helper()
	spec, job := cj.Spec, cj.Spec.JobTemplate.Spec
	pod := job.Template.Spec
	if spec.Schedule != "*/15 * * * *" || spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("schedule %q, concurrency %s", spec.Schedule, spec.ConcurrencyPolicy)
	}
	if deref(job.BackoffLimit, -1) != 0 || deref(job.ActiveDeadlineSeconds, 0) <= 0 || deref(job.TTLSecondsAfterFinished, 0) <= 0 ||
		deref(spec.SuccessfulJobsHistoryLimit, 100) > 5 || deref(spec.FailedJobsHistoryLimit, 100) > 5 {
		t.Errorf("job bounds: backoffLimit %v, activeDeadlineSeconds %v, ttlSecondsAfterFinished %v, history %v/%v",
			deref(job.BackoffLimit, -1), deref(job.ActiveDeadlineSeconds, 0), deref(job.TTLSecondsAfterFinished, 0),
			deref(spec.SuccessfulJobsHistoryLimit, 100), deref(spec.FailedJobsHistoryLimit, 100))
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s", pod.RestartPolicy)
	}
	c := assertLockedDownPod(t, pod)
	if !slices.Equal(c.Args, []string{"diagnose", "--output=json", "--fail-on=none"}) {
		t.Errorf("args %q", c.Args)
	}
	if limit := c.Resources.Limits.Memory(); limit.Cmp(resource.MustParse("512Mi")) != 0 || c.Resources.Requests.Memory().IsZero() ||
		c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
}

// assertLockedDownPod holds a pod of deploy/ to what the manifests promise: its own ServiceAccount
// and token, one container of the Dockerfile's image, non-root, with a read-only root file system
// and nothing to escalate with. It returns the container.
func assertLockedDownPod(t *testing.T, pod corev1.PodSpec) corev1.Container {
	t.Helper()
	if pod.ServiceAccountName != "alertmend" || !deref(pod.AutomountServiceAccountToken, false) {
		t.Errorf("serviceAccountName %q, automountServiceAccountToken %v", pod.ServiceAccountName, deref(pod.AutomountServiceAccountToken, false))
	}
	psc := pod.SecurityContext
	if psc == nil || !deref(psc.RunAsNonRoot, false) || deref(psc.RunAsUser, 0) != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "ghcr.io/alertmend/kubectl-alertmend:latest" || len(c.Command) != 0 {
		t.Errorf("image %q, command %q", c.Image, c.Command)
	}
	csc := c.SecurityContext
	if csc == nil || !deref(csc.ReadOnlyRootFilesystem, false) || deref(csc.AllowPrivilegeEscalation, true) ||
		csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v", csc)
	}
	return c
}

func deref[T any](p *T, otherwise T) T {
	if p == nil {
		return otherwise
	}
	return *p
}

// assertSameReport requires the administrator's findings and not-evaluated checks, with nothing
// forbidden but what the optional node-proxy role would allow (as TestDeployRBACIsEnoughForTheFullReport).
func assertSameReport(t *testing.T, command string, got, want *report.Report) {
	t.Helper()
	if !slices.Equal(findingKeys(got), findingKeys(want)) {
		t.Errorf("%s: the pod sees %q\nthe administrator %q", command, findingKeys(got), findingKeys(want))
	}
	if !slices.Equal(notEvaluatedChecks(got), notEvaluatedChecks(want)) {
		t.Errorf("%s: not evaluated in the pod %v, for the administrator %v", command, notEvaluatedChecks(got), notEvaluatedChecks(want))
	}
	for _, ne := range got.NotEvaluated {
		if strings.Contains(ne.Reason, "forbidden") && !(ne.Check == "dns-forward-loop-risk" && strings.Contains(ne.Reason, `resource "nodes/proxy"`)) {
			t.Errorf("%s: %s is forbidden to the pod: %s", command, ne.Check, ne.Reason)
		}
	}
}

// applyDeployManifest applies deploy/rbac.yaml and the named file of deploy/ as written, and
// requires the control plane, which the other tests share, to be as it was when the test ends:
// the tests that expect the scenario's exact findings would otherwise see the alertmend namespace.
func applyDeployManifest(t *testing.T, name string) {
	t.Helper()
	before := findingKeys(admin(t, "diagnose", "-o", "json").report(t))
	t.Cleanup(func() {
		if after := findingKeys(admin(t, "diagnose", "-o", "json").report(t)); !slices.Equal(after, before) {
			t.Errorf("the cluster was not restored: findings before %q\nafter %q", before, after)
		}
	})
	// TestDeployRBACIsEnoughForTheFullReport applies rbac.yaml too; whichever runs first creates it.
	applyManifest(t, filepath.Join(testcluster.RepoRoot(), "deploy", "rbac.yaml"), true)
	applyManifest(t, filepath.Join(testcluster.RepoRoot(), "deploy", name), false)
}

// applyManifest creates each object of a manifest file and deletes it when the test ends.
// existingOK leaves an object that is already there alone (and in place).
func applyManifest(t *testing.T, path string, existingOK bool) {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(doc) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: doc}
		one, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		err = testcluster.Apply(ctx, cluster.Config, one)
		if existingOK && apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Cleanup(func() { deleteObject(t, obj) })
	}
}

// deleteObject removes what applyManifest created. The test control plane runs no namespace
// controller, so a namespace is emptied of the ServiceAccount Apply adds and finalized here.
func deleteObject(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cluster.Client.Discovery()))
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatal(err)
	}
	var client dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if ns := obj.GetNamespace(); ns != "" {
		client = dyn.Resource(mapping.Resource).Namespace(ns)
	}
	if gvk.Kind == "Namespace" {
		if err := cluster.Client.CoreV1().ServiceAccounts(obj.GetName()).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting the default ServiceAccount of %s: %v", obj.GetName(), err)
		}
	}
	if err := client.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Errorf("deleting %s %s: %v", gvk.Kind, obj.GetName(), err)
		return
	}
	if gvk.Kind != "Namespace" {
		return
	}
	namespaces := cluster.Client.CoreV1().Namespaces()
	ns, err := namespaces.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err == nil {
		ns.Spec.Finalizers = nil
		_, err = namespaces.Finalize(ctx, ns, metav1.UpdateOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("finalizing namespace %s: %v", obj.GetName(), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := namespaces.Get(ctx, obj.GetName(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("namespace %s is still there", obj.GetName())
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// podEnv is what the kubelet gives a container, as the commands see it: KUBERNETES_SERVICE_HOST
// and _PORT, and load in place of rest.InClusterConfig (which reads fixed paths under
// /var/run/secrets).
type podEnv struct {
	vars  map[string]string
	load  func() (*rest.Config, error)
	loads int
}

func newPodEnv(t *testing.T, load func() (*rest.Config, error)) *podEnv {
	t.Helper()
	u, err := url.Parse(cluster.Server)
	if err != nil {
		t.Fatal(err)
	}
	return &podEnv{vars: map[string]string{"KUBERNETES_SERVICE_HOST": u.Hostname(), "KUBERNETES_SERVICE_PORT": u.Port()}, load: load}
}

// run executes the command line in process, as main does, in the pod.
func (p *podEnv) run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
	env := Environment{
		Getenv:     func(k string) string { return p.vars[k] },
		IsTerminal: func(io.Writer) bool { return false },
		Now:        func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) },
		InClusterConfig: func() (*rest.Config, error) {
			p.loads++
			return p.load()
		},
	}
	code := Execute(context.Background(), NewRootCommand(streams, env), args, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// noKubeconfig hides every kubeconfig client-go would find: KUBECONFIG names a file that does
// not exist (client-go skips missing files, and with KUBECONFIG set does not look in HOME), and
// HOME is empty anyway.
func noKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("HOME", t.TempDir())
}

// Without a kubeconfig, the pod's configuration is used only in a pod, and a failure to load it
// is one line naming the cause, whichever command connects; a kubeconfig, when there is one, wins.
func TestInClusterConfigErrors(t *testing.T) {
	noKubeconfig(t)
	notInPod := errors.New("open /var/run/secrets/kubernetes.io/serviceaccount/token: no such file or directory")
	failing := newPodEnv(t, func() (*rest.Config, error) { return nil, notInPod })

	t.Run("outside a pod", func(t *testing.T) {
		outside := &podEnv{vars: map[string]string{}, load: failing.load}
		// Outside a pod, the KUBECONFIG that hides the user's own kubeconfig is what is missing.
		assertCleanFailure(t, outside.run(t, "diagnose"), "KUBECONFIG names "+os.Getenv("KUBECONFIG")+", which does not exist")
		if outside.loads != 0 {
			t.Errorf("the in-cluster configuration was loaded %d times outside a pod", outside.loads)
		}
	})
	for _, args := range [][]string{{"diagnose"}, {"rbac-audit"}, {"snapshot", "-o", filepath.Join(t.TempDir(), "s.gz")}, {"diagnose", "--explain-permissions"}} {
		t.Run("in a pod without its configuration: "+strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
			assertCleanFailure(t, failing.run(t, args...),
				"no kubeconfig, and the in-cluster configuration of this pod (KUBERNETES_SERVICE_HOST is set) cannot be loaded: "+notInPod.Error())
		})
	}
	t.Run("kubeconfig-only flags in a pod", func(t *testing.T) {
		for _, flag := range []string{"--context=prod", "--cluster=prod", "--user=admin"} {
			name, _, _ := strings.Cut(flag, "=")
			assertCleanFailure(t, failing.run(t, "diagnose", flag), name+" needs a kubeconfig, and there is none")
		}
		assertCleanFailure(t, failing.run(t, "diagnose", "--as-group=ops"), "--as-group, --as-uid and --as-user-extra impersonate a user: pass --as too")
	})
	t.Run("a kubeconfig wins over the pod's configuration", func(t *testing.T) {
		failing.loads = 0
		r := failing.run(t, "diagnose", "--checks", "pod-crashloop", "-o", "json", "--kubeconfig", cluster.Kubeconfig)
		if r.code != report.ExitGateFailed || r.report(t).Metadata.Context != testcluster.ContextName {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
		t.Setenv("KUBECONFIG", cluster.Kubeconfig)
		if r := failing.run(t, "diagnose", "--checks", "pod-crashloop", "-o", "json"); r.code != report.ExitGateFailed {
			t.Errorf("with KUBECONFIG: exit %d, stderr %s", r.code, r.stderr)
		}
		if failing.loads != 0 {
			t.Errorf("the in-cluster configuration was loaded %d times although a kubeconfig was given", failing.loads)
		}
	})
}

// The Dockerfile builds what deploy/cronjob.yaml runs: a static binary, stamped with the version,
// on an image without a shell, as a numeric non-root user. Its go build line is run here as
// written (only -o points elsewhere); no Docker engine is needed.
func TestDockerfile(t *testing.T) {
	root := testcluster.RepoRoot()
	text, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := dockerStages(string(text))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	final := stages[len(stages)-1]
	if image := final.image; image != "scratch" && !strings.HasPrefix(image, "gcr.io/distroless/static") {
		t.Errorf("final image %q: want distroless/static or scratch", image)
	}
	user := final.last("USER")
	uid, gid, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric user other than root, so runAsNonRoot can verify it", user)
	} else if _, err := strconv.Atoi(gid); gid != "" && err != nil {
		t.Errorf("USER %q: the group is not numeric", user)
	}
	var entrypoint []string
	if err := json.Unmarshal([]byte(final.last("ENTRYPOINT")), &entrypoint); err != nil || len(entrypoint) != 1 {
		t.Fatalf("ENTRYPOINT %q: want the exec form naming the binary alone (there is no shell)", final.last("ENTRYPOINT"))
	}
	// The entrypoint is the file copied from the build stage, which its go build wrote.
	copied := strings.Fields(final.last("COPY"))
	if len(copied) != 3 || !strings.HasPrefix(copied[0], "--from=") || copied[2] != entrypoint[0] {
		t.Fatalf("COPY %q does not put the binary at the entrypoint %q", copied, entrypoint[0])
	}
	var build *dockerStage
	for i := range stages {
		if stages[i].name == strings.TrimPrefix(copied[0], "--from=") {
			build = &stages[i]
		}
	}
	if build == nil {
		t.Fatalf("no stage %s", copied[0])
	}

	args := map[string]string{"VERSION": "v9.8.7-test", "COMMIT": "abc1234", "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH}
	var line string
	for _, run := range build.all("RUN") {
		if strings.Contains(run, "go build") {
			line = run
		}
	}
	words, err := shellWords(line)
	if err != nil {
		t.Fatalf("RUN %s: %v", line, err)
	}
	// As sh expands them from the stage's ARGs; anything else would not be understood here.
	for i, word := range words {
		if strings.Trim(word, "|&;") == "" {
			t.Fatalf("RUN %s: more than one command", line)
		}
		words[i] = os.Expand(word, func(name string) string {
			value, ok := args[name]
			if !ok || !slices.Contains(build.args, name) {
				t.Fatalf("RUN %s: $%s is not a build argument this test knows", line, name)
			}
			return value
		})
	}
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the build sets %q: want CGO_ENABLED=0", env)
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" || !slices.Contains(words, "-trimpath") {
		t.Fatalf("RUN %q: want go build -trimpath", words)
	}
	out := slices.Index(words, "-o")
	ldflags := slices.Index(words, "-ldflags")
	if out < 0 || out+1 >= len(words) || words[out+1] != copied[1] || ldflags < 0 || ldflags+1 >= len(words) {
		t.Fatalf("go build %q: want -ldflags and -o %s", words, copied[1])
	}
	if want := makefileLDFLAGS(t, root, args["VERSION"], args["COMMIT"]); strings.Join(strings.Fields(words[ldflags+1]), " ") != want {
		t.Errorf("-ldflags %q, want the Makefile's %q", words[ldflags+1], want)
	}

	binary := filepath.Join(t.TempDir(), "kubectl-alertmend")
	words[out+1] = binary
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(words, " "), err, output)
	}

	if runtime.GOOS == "linux" {
		f, err := elf.Open(binary)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary asks for a dynamic loader (PT_INTERP): it would not start on a static image")
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("the binary links %q (%v)", libs, err)
		}
	}
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings %v", settings)
	}
	output, err := exec.Command(binary, "version").CombinedOutput()
	if want := "kubectl-alertmend v9.8.7-test (commit abc1234) "; err != nil || !strings.HasPrefix(string(output), want) {
		t.Errorf("version: %v: %q, want it to start with %q", err, output, want)
	}

	// The CronJob runs the image as its USER, which runAsNonRoot checks against runAsUser.
	var cronJob batchv1.CronJob
	manifests, err := os.ReadFile(filepath.Join(root, "deploy", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(manifests), "\n---\n") {
		if strings.Contains(doc, "\nkind: CronJob\n") {
			if err := yaml.UnmarshalStrict([]byte(doc), &cronJob); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sc := cronJob.Spec.JobTemplate.Spec.Template.Spec.SecurityContext; sc == nil || strconv.FormatInt(deref(sc.RunAsUser, -1), 10) != uid {
		t.Errorf("the CronJob's runAsUser is not the image's user %s", uid)
	}
}

// dockerStage is one FROM and the instructions after it, continuation lines joined.
type dockerStage struct {
	image, name  string
	args         []string
	instructions [][2]string
}

func (s dockerStage) all(keyword string) []string {
	var values []string
	for _, in := range s.instructions {
		if in[0] == keyword {
			values = append(values, in[1])
		}
	}
	return values
}

func (s dockerStage) last(keyword string) string {
	values := s.all(keyword)
	if len(values) == 0 {
		return ""
	}
	return values[len(values)-1]
}

// dockerStages reads a Dockerfile as Docker does for what these tests look at: comment lines
// dropped (inside continuations too), lines ending in a backslash joined to the next.
func dockerStages(text string) []dockerStage {
	var stages []dockerStage
	var joined strings.Builder
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if continued, ok := strings.CutSuffix(line, `\`); ok {
			joined.WriteString(continued + " ")
			continue
		}
		joined.WriteString(line)
		keyword, rest, _ := strings.Cut(joined.String(), " ")
		joined.Reset()
		keyword, rest = strings.ToUpper(keyword), strings.TrimSpace(rest)
		if keyword == "FROM" {
			var stage dockerStage
			for _, field := range strings.Fields(rest) {
				switch {
				case strings.HasPrefix(field, "--"):
				case stage.image == "":
					stage.image = field
				case !strings.EqualFold(field, "AS"):
					stage.name = field
				}
			}
			stages = append(stages, stage)
			continue
		}
		if len(stages) == 0 {
			continue
		}
		s := &stages[len(stages)-1]
		if keyword == "ARG" {
			name, _, _ := strings.Cut(rest, "=")
			s.args = append(s.args, name)
		}
		s.instructions = append(s.instructions, [2]string{keyword, rest})
	}
	return stages
}

// makefileLDFLAGS is the Makefile's LDFLAGS with VERSION and COMMIT filled in, spaces normalized.
func makefileLDFLAGS(t *testing.T, root, version, commit string) string {
	t.Helper()
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(makefile), "\nLDFLAGS := ")
	if !ok {
		t.Fatal("the Makefile defines no LDFLAGS")
	}
	var value strings.Builder
	for _, line := range strings.Split(rest, "\n") {
		continued, more := strings.CutSuffix(strings.TrimSpace(line), `\`)
		value.WriteString(continued + " ")
		if !more {
			break
		}
	}
	flags := strings.NewReplacer("$(VERSION)", version, "$(COMMIT)", commit).Replace(value.String())
	return strings.Join(strings.Fields(flags), " ")
}
