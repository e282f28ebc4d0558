package hygiene

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// manifests loads a fixture as diagnose -f reads files.
func manifests(t *testing.T, name string) *snapshot.Snapshot {
	s := fixture.Load(t, name)
	s.Source = snapshot.SourceManifests
	return s
}

func TestReadinessNamesThePortAndPatchesIt(t *testing.T) {
	findings := ReadinessMissing{}.Run(fixture.Load(t, "readiness-probe-missing.yaml"))
	web := fixture.Find(t, findings, "shop/deployment/web")
	if !strings.HasPrefix(web.Message, "deployment shop/web is behind Service web, but container app has no readiness probe") ||
		!slices.Equal(web.Evidence, []string{"service web port 80 reaches container app port 8080, which has no readinessProbe"}) {
		t.Errorf("web: %q %q", web.Message, web.Evidence)
	}
	want := `kubectl patch -n shop deployment/web --patch-file=/dev/stdin <<'EOF'   # a TCP check of the served port; an HTTP check of the application's readiness endpoint is better where it has one
spec:
  template:
    spec:
      containers:
      - name: app
        readinessProbe:
          periodSeconds: 5
          tcpSocket:
            port: 8080
EOF`
	if !slices.Equal(web.Fix, []string{want}) {
		t.Errorf("web fix:\n got  %q\n want %q", web.Fix, want)
	}
	// Liveness already checks the port by TCP: readiness must ask something else.
	queue := fixture.Find(t, findings, "shop/deployment/queue")
	if len(queue.Fix) != 1 || !strings.Contains(queue.Fix[0], "path: /READINESS_PATH") || strings.Contains(queue.Fix[0], "tcpSocket") {
		t.Errorf("queue fix %q", queue.Fix)
	}
	cache := fixture.Find(t, findings, "shop/statefulset/cache")
	if len(cache.Fix) != 1 || !strings.Contains(cache.Fix[0], "port: 6379") {
		t.Errorf("cache fix %q", cache.Fix)
	}
}

func TestLivenessSameAsReadinessSeverityFollowsTheEvents(t *testing.T) {
	s := fixture.Load(t, "liveness-probe-same-as-readiness.yaml")
	web := fixture.Find(t, LivenessIsReadiness{}.Run(s), "shop/deployment/web")
	if web.Severity != check.Medium || !web.Incident || len(web.Evidence) != 2 ||
		!strings.HasPrefix(web.Evidence[1], `pod web-7d9f8c6b5-k2x4q: Liveness probe failed: Get "http://10.0.0.7:8080/health": context deadline exceeded (12 times`) {
		t.Errorf("web: %s %v %q", web.Severity, web.Incident, web.Evidence)
	}
	if len(web.Fix) != 1 || !strings.Contains(web.Fix[0], "httpGet: null") || !strings.Contains(web.Fix[0], "port: 8080") {
		t.Errorf("web fix %q", web.Fix)
	}
	// Without the events, nothing shows the restarts: the latent risk is low. A fresh snapshot,
	// since the first run indexed its events.
	s = fixture.Load(t, "liveness-probe-same-as-readiness.yaml")
	s.Events = nil
	if web := fixture.Find(t, LivenessIsReadiness{}.Run(s), "shop/deployment/web"); web.Severity != check.Low || web.Incident {
		t.Errorf("web without events: %s %v", web.Severity, web.Incident)
	}
}

func TestLivenessKillsStartupEvidenceAndStartupProbe(t *testing.T) {
	findings := LivenessKillsStartup{}.Run(fixture.Load(t, "liveness-probe-kills-startup.yaml"))
	search := fixture.Find(t, findings, "shop/deployment/search")
	if !slices.Equal(search.Evidence, []string{"pod search-6c7d8f9b4-h7j2k container engine: restarted 6 times; liveness allows 30s to start " +
		"(initialDelaySeconds 0 + 3 × 10s); the last run lasted 35s, exit code 137 (Error)"}) || !search.Incident || search.Since == nil {
		t.Errorf("search: %q %v %v", search.Evidence, search.Incident, search.Since)
	}
	want := `kubectl patch -n shop deployment/search --patch-file=/dev/stdin <<'EOF'   # liveness waits until the startup probe succeeds; raise failureThreshold if the start takes longer than 5 minutes
spec:
  template:
    spec:
      containers:
      - name: engine
        startupProbe:
          failureThreshold: 30
          httpGet:
            path: /health
            port: 9200
          periodSeconds: 10
EOF`
	if !slices.Equal(search.Fix, []string{want}) {
		t.Errorf("search fix:\n got  %q\n want %q", search.Fix, want)
	}
	db := fixture.Find(t, findings, "shop/statefulset/db")
	if len(db.Evidence) != 1 || !strings.HasSuffix(db.Evidence[0], "; Liveness probe failed: /var/run/postgresql:5432 - rejecting connections") {
		t.Errorf("db evidence %q", db.Evidence)
	}
	// The crash loop it causes is folded under it, with its logs to read.
	if m := (LivenessKillsStartup{}).Meta(); !m.LiveOnly || !slices.Contains(m.Absorbs, "pod-crashloop") {
		t.Errorf("meta %+v", m)
	}
}

func TestMutableTagPinsTheRunningDigest(t *testing.T) {
	findings := MutableImageTag{}.Run(fixture.Load(t, "image-tag-mutable.yaml"))
	web := fixture.Find(t, findings, "shop/deployment/web")
	if len(web.Fix) != 1 || !strings.Contains(web.Fix[0], "image: registry.example/web@sha256:4b2e9c1f3a5d7e9f0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a") ||
		!strings.Contains(web.Fix[0], "initContainers:\n      - image: registry.example/migrate@DIGEST") {
		t.Errorf("web fix %q", web.Fix)
	}
	if !slices.Contains(web.Evidence, "spec.template.spec.initContainers[0] (migrate): image registry.example/migrate, imagePullPolicy Never") {
		t.Errorf("web evidence %q", web.Evidence)
	}
}

func TestImageParsingFollowsTheKubelet(t *testing.T) {
	for image, want := range map[string]struct {
		tag, domain string
	}{
		"nginx":              {"latest", "docker.io"},
		"nginx:1.27":         {"1.27", "docker.io"},
		"acme/api:3":         {"3", "docker.io"},
		"localhost:5000/api": {"latest", "localhost:5000"},
		"registry.example/web@sha256:" + strings.Repeat("a", 64): {"", "registry.example"},
		"quay.io/prometheus/node-exporter:v1.8.2":                {"v1.8.2", "quay.io"},
	} {
		im, ok := parseImage(image)
		if !ok || im.tag != want.tag || reference.Domain(im.named) != want.domain {
			t.Errorf("%s: tag %q domain %q ok %v, want %q %q", image, im.tag, reference.Domain(im.named), ok, want.tag, want.domain)
		}
	}
	if _, ok := parseImage("Nginx"); ok {
		t.Error("an invalid reference parsed")
	}
}

func TestPullRateLimitInManifestsSkipsAccountsElsewhere(t *testing.T) {
	s := manifests(t, "image-pull-rate-limited.yaml")
	// A ServiceAccount other than default, not in the files: it may carry credentials.
	s.ServiceAccounts = slices.DeleteFunc(s.ServiceAccounts, func(sa corev1.ServiceAccount) bool { return sa.Name == "builder" })
	for i := range s.Deployments {
		if s.Deployments[i].Name == "ci" {
			s.Deployments[i].Spec.Template.Spec.ImagePullSecrets = nil
		}
	}
	got := fixture.Summaries(PullRateLimited{}.Run(s))
	if !slices.Equal(got, []string{"low image-pull-rate-limited shop/deployment/cache,shop/deployment/web,shop/serviceaccount/default"}) {
		t.Errorf("manifests: %q", got)
	}
	// On a cluster, a missing ServiceAccount carries nothing.
	s.Source = snapshot.SourceCluster
	got = fixture.Summaries(PullRateLimited{}.Run(s))
	if !slices.Contains(got, "low image-pull-rate-limited paid/deployment/ci,paid/serviceaccount/builder") {
		t.Errorf("cluster: %q", got)
	}
}

func TestSelectorMessagesQuoteTheAPIServer(t *testing.T) {
	findings := SelectorRefused{}.Run(manifests(t, "controller-selector-invalid.yaml"))
	db := fixture.Find(t, findings, "shop/statefulset/db")
	if db.Message != "statefulset shop/db: spec.template.metadata.labels: Invalid value: app=database: `selector` does not match template `labels`; "+
		"the API server refuses it, so applying the manifest fails" ||
		!slices.Equal(db.Fix, []string{"# testdata/controller-selector-invalid.yaml:39: add app: db, tier: data to spec.template.metadata.labels (or change spec.selector to labels the template has)"}) {
		t.Errorf("db: %q %q", db.Message, db.Fix)
	}
	api := fixture.Find(t, findings, "shop/deployment/api")
	if !strings.HasPrefix(api.Message, "deployment shop/api: spec.selector: Required value;") {
		t.Errorf("api: %q", api.Message)
	}
}

func TestContainerNamesAsValidationReportsThem(t *testing.T) {
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "app"}},
		Containers: []corev1.Container{
			{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "http", ContainerPort: 81}}},
			{Name: "side", Ports: []corev1.ContainerPort{{ContainerPort: 90, HostPort: 9000}}},
			{Name: "other", Ports: []corev1.ContainerPort{{ContainerPort: 91, HostPort: 9000, Protocol: corev1.ProtocolTCP}}},
		},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "side"}}},
	}
	want := []string{
		`spec.containers[0].ports[1].name: Duplicate value: "http"`,
		`spec.initContainers[0].name: Duplicate value: "app"`,
		`spec.ephemeralContainers[0].name: Duplicate value: "side"`,
		`spec.containers[2].ports[0].hostPort: Duplicate value: "TCP//9000"`,
	}
	if got := refusedContainers(spec, "spec"); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The same port twice in one container is a warning, not a refusal; by name it is refused.
	if got := portWarnings(spec, "spec"); len(got) != 0 {
		t.Errorf("warnings %q", got)
	}
}

func TestBudgetArithmeticFollowsTheDisruptionController(t *testing.T) {
	pct := func(v string) *intstr.IntOrString { p := intstr.Parse(v); return &p }
	for _, tc := range []struct {
		min, max *intstr.IntOrString
		replicas int32
		want     int
	}{
		{min: pct("1"), replicas: 1, want: 0},
		{min: pct("1"), replicas: 2, want: 1},
		{min: pct("50%"), replicas: 1, want: 0}, // rounded up: 1 of 1
		{min: pct("66%"), replicas: 3, want: 1},
		{max: pct("0"), replicas: 5, want: 0},
		{max: pct("10%"), replicas: 3, want: 1}, // rounded up
		{replicas: 1, want: 1},                  // policy/v1 has no default: nothing is kept
	} {
		pdb := &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: tc.min, MaxUnavailable: tc.max}}
		if got, ok := allowedDisruptions(pdb, tc.replicas); !ok || got != tc.want {
			t.Errorf("min %v max %v over %d: %d (%v), want %d", tc.min, tc.max, tc.replicas, got, ok, tc.want)
		}
	}
}

func TestSpreadInManifestsAndOnUnreadNodes(t *testing.T) {
	got := fixture.Summaries(ReplicasNotSpread{}.Run(manifests(t, "replicas-not-spread.yaml")))
	// Manifests: no placement to see, so every unspread workload is low.
	if !slices.Equal(got, []string{"low replicas-not-spread shop/deployment/api", "low replicas-not-spread shop/deployment/web"}) {
		t.Errorf("manifests: %q", got)
	}
	s := fixture.Load(t, "replicas-not-spread.yaml")
	s.Nodes = nil
	s.MarkUnavailable(snapshot.KindNodes, "forbidden")
	f := fixture.Find(t, ReplicasNotSpread{}.Run(s), "shop/deployment/web")
	if len(f.Evidence) != 0 {
		t.Errorf("unread nodes counted: %q", f.Evidence)
	}
}

// Every fix pastes whole: valid shell, and UPPER_CASE placeholders, never <...>.
func TestFixesPasteWhole(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to read the fixes with")
	}
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range fixtures {
		s := fixture.Load(t, filepath.Base(name))
		var script []string
		for _, c := range Checks() {
			for _, f := range c.Run(s) {
				for _, fix := range f.Fix {
					if strings.ContainsAny(fix, "<>") && !strings.Contains(fix, "<<'EOF'") {
						t.Errorf("%s on %s: placeholder in %q", c.Meta().ID, name, fix)
					}
					script = append(script, fix)
				}
			}
		}
		if out, err := exec.Command(sh, "-n", "-c", strings.Join(script, "\n")).CombinedOutput(); err != nil {
			t.Errorf("the fixes of %s are no valid shell: %v %s", name, err, out)
		}
	}
}
