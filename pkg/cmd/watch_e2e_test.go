//go:build e2e

package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// settleWatch bounds each wait for the living cluster and the watch to reach a state: generous,
// as the machine may be busy; a state reached sooner ends the wait at once.
const settleWatch = 3 * time.Minute

// A watch of a living cluster sees a bad rollout appear, worsen and resolve, survives its API
// server's restart without reporting anything resolved, reads only, and ends with exit 0 on
// Ctrl-C and on SIGTERM.
func TestWatchLivingCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Living: true, Audit: true, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	defer func() {
		if t.Failed() {
			c.DumpLogs(os.Stderr)
		}
	}()
	if _, err := c.AddNodes(ctx, 2, testcluster.NodeOptions{Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("30"),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deployments := c.Client.AppsV1().Deployments("shop")
	if _, err := deployments.Create(ctx, cartDeployment("registry.example/cart:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "cart to have 2 available replicas", func() bool {
		d, err := deployments.Get(ctx, "cart", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 2 && d.Status.UpdatedReplicas == 2
	})

	w := startWatch(ctx, t, c.Kubeconfig, "--debounce", "500ms", "--interval", "5s")
	waitFor(ctx, t, "the first evaluation", func() bool { return strings.Contains(w.stderr(), "watching ") })

	// A rollout to an image that cannot be pulled: one old replica goes, the new one fails.
	patch(ctx, t, c, `{"spec":{"template":{"spec":{"containers":[{"name":"cart","image":"registry.example/cart-`+testcluster.BadImageMarker+`:2"}]}}}}`)
	appeared := w.waitEvent(ctx, t, "NEW deployment-unavailable for shop/cart", func(e watchEvent) bool {
		return e.Type == "new" && isCart(e)
	})
	// All replicas may go: the finding worsens to critical.
	patch(ctx, t, c, `{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":2}}}}`)
	changed := w.waitEvent(ctx, t, "CHANGED deployment-unavailable to critical", func(e watchEvent) bool {
		return e.Type == "changed" && isCart(e) && e.Finding.Severity == check.Critical
	})
	if changed.Finding.ID != appeared.Finding.ID || len(changed.Changes) == 0 || !strings.Contains(strings.Join(changed.Changes, ";"), "-> critical") {
		t.Errorf("the change says %v of %s, want the severity of %s", changed.Changes, changed.Finding.ID, appeared.Finding.ID)
	}

	// The API server restarts: every watch breaks, and resumes.
	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the watch to say it resumed", func() bool {
		return strings.Contains(w.stderr(), "interrupted") && strings.Contains(w.stderr(), "resumed")
	})

	news := 0
	for _, e := range w.events(t) {
		if isCart(e) && e.Type == "new" {
			news++
		}
		if isCart(e) && (e.Type == "resolved" || news > 1) {
			t.Errorf("%s before the rollback: the restart must neither resolve nor forget the finding", e.Type)
		}
	}

	// Rolled back after the restart: the watch still sees it.
	patch(ctx, t, c, `{"spec":{"template":{"spec":{"containers":[{"name":"cart","image":"registry.example/cart:1"}]}}}}`)
	w.waitEvent(ctx, t, "RESOLVED deployment-unavailable for shop/cart", func(e watchEvent) bool {
		return e.Type == "resolved" && isCart(e)
	})
	if code := w.stop(); code != 0 {
		t.Errorf("Ctrl-C ended the watch with exit %d, want 0\nstderr: %s", code, w.stderr())
	}
	if strings.Contains(w.stderr(), "Failed to watch") || strings.Contains(w.stderr(), "reflector.go") {
		t.Errorf("client-go's own logs leaked to stderr:\n%s", w.stderr())
	}

	t.Run("SIGTERM ends the watch with exit 0", func(t *testing.T) { testWatchSIGTERM(ctx, t, c) })

	read := auditedReads(t, c)
	for _, resource := range []string{"/pods", "apps/deployments", "/events"} {
		if !read[resource] {
			t.Errorf("the audit log shows no read of %s; it read %v", resource, read)
		}
	}
}

func cartDeployment(image string) *appsv1.Deployment {
	replicas := int32(2)
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	labels := map[string]string{"app": "cart"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &one, MaxSurge: &zero}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "cart", Image: image}}},
			},
		},
	}
}

func patch(ctx context.Context, t *testing.T, c *testcluster.Cluster, body string) {
	t.Helper()
	if _, err := c.Client.AppsV1().Deployments("shop").Patch(ctx, "cart", types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func isCart(e watchEvent) bool {
	if e.Finding == nil || e.Finding.Check != "deployment-unavailable" {
		return false
	}
	for _, o := range e.Finding.Objects {
		if o.Kind == "Deployment" && o.Namespace == "shop" && o.Name == "cart" {
			return true
		}
	}
	return false
}

func waitFor(ctx context.Context, t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(settleWatch)
	for !done() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waited %s for %s", settleWatch, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// watchEvent is one document of the -o json stream.
type watchEvent struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Type       string         `json:"type"`
	Time       string         `json:"time"`
	Finding    *check.Finding `json:"finding"`
	Changes    []string       `json:"changes"`
}

// runningWatch is diagnose --watch -o json run in process until stop.
type runningWatch struct {
	cancel context.CancelFunc
	done   chan int
	once   sync.Once
	code   int
	mu     sync.Mutex
	out    bytes.Buffer
	errOut bytes.Buffer
}

// lockedWriter lets the test read what the watch writes while it writes.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func startWatch(ctx context.Context, t *testing.T, kubeconfig string, args ...string) *runningWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	w := &runningWatch{cancel: cancel, done: make(chan int, 1)}
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: lockedWriter{&w.mu, &w.out}, ErrOut: lockedWriter{&w.mu, &w.errOut}}
	env := Environment{Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return false }, Now: time.Now}
	args = append([]string{"diagnose", "--watch", "-o", "json", "--kubeconfig", kubeconfig}, args...)
	go func() { w.done <- Execute(ctx, NewRootCommand(streams, env), args, lockedWriter{&w.mu, &w.errOut}) }()
	t.Cleanup(func() { w.stop() })
	return w
}

// stop interrupts the watch, as Ctrl-C does, and returns its exit code.
func (w *runningWatch) stop() int {
	w.once.Do(func() {
		w.cancel()
		w.code = <-w.done
	})
	return w.code
}

func (w *runningWatch) stderr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errOut.String()
}

// events parses the stream so far: each line must be one FindingEvent.
func (w *runningWatch) events(t *testing.T) []watchEvent {
	t.Helper()
	w.mu.Lock()
	out := w.out.String()
	w.mu.Unlock()
	var events []watchEvent
	scanner := bufio.NewScanner(strings.NewReader(out))
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		var e watchEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil || e.Kind != "FindingEvent" || e.APIVersion == "" {
			t.Fatalf("not a FindingEvent line (%v): %s", err, scanner.Text())
		}
		events = append(events, e)
	}
	return events
}

func (w *runningWatch) waitEvent(ctx context.Context, t *testing.T, what string, match func(watchEvent) bool) watchEvent {
	t.Helper()
	deadline := time.Now().Add(settleWatch)
	for {
		for _, e := range w.events(t) {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("waited %s for %s\nstdout:\n%s\nstderr:\n%s", settleWatch, what, w.out.String(), w.errOut.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testWatchSIGTERM runs the binary, as a pod's container runs, and stops it as the kubelet does.
func testWatchSIGTERM(ctx context.Context, t *testing.T, c *testcluster.Cluster) {
	var stderr lockedBuffer
	watch := exec.CommandContext(ctx, binary, "diagnose", "--watch", "--kubeconfig", c.Kubeconfig, "-n", "shop")
	watch.Stdout, watch.Stderr = io.Discard, &stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the first evaluation", func() bool { return strings.Contains(stderr.String(), "watching ") })
	if err := watch.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := watch.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0\nstderr: %s", err, stderr.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
