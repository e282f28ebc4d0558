package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// measurement is the median of repeated runs of one command.
type measurement struct {
	wall     time.Duration
	peakRSS  int64 // KiB, as getrusage reports it
	requests int
}

// floorPaths are the LISTs diagnose makes with every check selected, one request each: what no
// tool reading the same state can go below.
func floorPaths() []string {
	return []string{
		"/api/v1/namespaces", "/api/v1/nodes", "/api/v1/pods", "/api/v1/services", "/api/v1/serviceaccounts",
		"/api/v1/limitranges", "/api/v1/resourcequotas", "/api/v1/namespaces/kube-system/configmaps",
		"/api/v1/events?fieldSelector=involvedObject.kind%3DNode",
		"/api/v1/events?fieldSelector=type%3DWarning%2CinvolvedObject.kind%21%3DNode",
		"/apis/apps/v1/deployments", "/apis/apps/v1/replicasets", "/apis/apps/v1/statefulsets", "/apis/apps/v1/daemonsets",
		"/apis/batch/v1/jobs", "/apis/batch/v1/cronjobs", "/apis/discovery.k8s.io/v1/endpointslices",
		"/apis/networking.k8s.io/v1/networkpolicies", "/apis/networking.k8s.io/v1/ingresses",
		"/apis/policy/v1/poddisruptionbudgets", "/apis/autoscaling/v2/horizontalpodautoscalers",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
		"/apis/rbac.authorization.k8s.io/v1/roles", "/apis/rbac.authorization.k8s.io/v1/rolebindings",
	}
}

type floor struct {
	client *http.Client
	host   string
}

func newFloor(config *rest.Config) (*floor, error) {
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		return nil, err
	}
	return &floor{client: client, host: config.Host}, nil
}

// list sends every floor LIST at once, in protobuf, and discards the bodies.
func (f *floor) list(ctx context.Context) (time.Duration, error) {
	started := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(floorPaths()))
	for i, path := range floorPaths() {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.host+path, nil)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Accept", "application/vnd.kubernetes.protobuf,application/json")
			resp, err := f.client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				errs[i] = err
			} else if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("GET %s: %s", path, resp.Status)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(started), nil
}

// repeat runs a command runs times and keeps the medians of its wall time, peak RSS and, when
// counted, API requests. Exit codes 0, 1 and 3 are reports (findings, or some checks not
// evaluated); anything else is a failure.
func repeat(ctx context.Context, runs int, counter *requestCounter, binary string, args ...string) (measurement, error) {
	var walls []time.Duration
	var rss, requests []int64
	for range runs {
		before, err := counter.count()
		if err != nil {
			return measurement{}, err
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		started := time.Now()
		err = cmd.Run()
		wall := time.Since(started)
		if code := cmd.ProcessState.ExitCode(); err != nil && code != 1 && code != 3 {
			return measurement{}, fmt.Errorf("%s %v: %v\n%s", binary, args, err, stderr.String())
		}
		after, err := counter.count()
		if err != nil {
			return measurement{}, err
		}
		walls = append(walls, wall)
		maxRSS := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
		if runtime.GOOS == "darwin" {
			maxRSS /= 1024 // bytes there, KiB on Linux
		}
		rss = append(rss, maxRSS)
		requests = append(requests, int64(after-before))
	}
	return measurement{wall: median(walls), peakRSS: medianInt(rss), requests: int(medianInt(requests))}, nil
}

func medianInt(values []int64) int64 {
	durations := make([]time.Duration, len(values))
	for i, v := range values {
		durations[i] = time.Duration(v)
	}
	return int64(median(durations))
}

// requestCounter counts the measured user's requests in the API server's audit log, which logs
// nothing else (see auditPolicy); a nil counter counts nothing.
type requestCounter struct{ path string }

func (c *requestCounter) count() (int, error) {
	if c == nil {
		return 0, nil
	}
	// The API server writes audit events asynchronously: let the last ones land.
	time.Sleep(200 * time.Millisecond)
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := 0
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for scanner.Scan() {
		lines++
	}
	return lines, scanner.Err()
}

// exportManifests writes the cluster's Deployments, Services, NetworkPolicies, Ingresses, Roles and
// RoleBindings as one multi-document YAML file, as they would be kept in a repository: no
// status, no server-set metadata.
func exportManifests(ctx context.Context, client kubernetes.Interface, path string) (objects, size int, err error) {
	var buf bytes.Buffer
	all := metav1.ListOptions{}
	deployments, err := client.AppsV1().Deployments("").List(ctx, all)
	if err == nil {
		for i := range deployments.Items {
			deployments.Items[i].Status = appsv1.DeploymentStatus{}
		}
		err = export(&buf, "apps/v1", "Deployment", deployments.Items)
	}
	if err != nil {
		return 0, 0, err
	}
	services, err := client.CoreV1().Services("").List(ctx, all)
	var kept []corev1.Service // the API server's own "kubernetes" Service is no manifest
	if err == nil {
		for _, s := range services.Items {
			if s.Namespace != "default" || s.Name != "kubernetes" {
				s.Status, s.Spec.ClusterIPs = corev1.ServiceStatus{}, nil
				kept = append(kept, s)
			}
		}
		err = export(&buf, "v1", "Service", kept)
	}
	if err != nil {
		return 0, 0, err
	}
	policies, err := client.NetworkingV1().NetworkPolicies("").List(ctx, all)
	if err == nil {
		err = export(&buf, "networking.k8s.io/v1", "NetworkPolicy", policies.Items)
	}
	if err != nil {
		return 0, 0, err
	}
	ingresses, err := client.NetworkingV1().Ingresses("").List(ctx, all)
	if err == nil {
		err = export(&buf, "networking.k8s.io/v1", "Ingress", ingresses.Items)
	}
	if err != nil {
		return 0, 0, err
	}
	roles, err := client.RbacV1().Roles("").List(ctx, all)
	if err == nil {
		err = export(&buf, "rbac.authorization.k8s.io/v1", "Role", roles.Items)
	}
	if err != nil {
		return 0, 0, err
	}
	bindings, err := client.RbacV1().RoleBindings("").List(ctx, all)
	if err == nil {
		err = export(&buf, "rbac.authorization.k8s.io/v1", "RoleBinding", bindings.Items)
	}
	if err != nil {
		return 0, 0, err
	}
	objects = len(deployments.Items) + len(kept) + len(policies.Items) + len(ingresses.Items) + len(roles.Items) + len(bindings.Items)
	return objects, buf.Len(), os.WriteFile(path, buf.Bytes(), 0o600)
}

// export appends objects as YAML documents, keeping of their metadata only what a repository
// would hold: name, namespace, labels.
func export[T any, PT interface {
	*T
	metav1.Object
}](buf *bytes.Buffer, apiVersion, kind string, items []T) error {
	for i := range items {
		obj := PT(&items[i])
		obj.SetUID("")
		obj.SetResourceVersion("")
		obj.SetGeneration(0)
		obj.SetCreationTimestamp(metav1.Time{})
		obj.SetManagedFields(nil)
		obj.SetAnnotations(nil)
		obj.SetOwnerReferences(nil)
		obj.SetFinalizers(nil)
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(buf, "---\napiVersion: %s\nkind: %s\n", apiVersion, kind)
		buf.Write(data)
	}
	return nil
}
