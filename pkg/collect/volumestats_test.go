package collect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/promtest"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The kubelets' volume stats are read from the Prometheus of --prometheus-url with Prometheus'
// own client, by GET, limited to the run's namespace; inodes that do not answer are left unknown.
func TestVolumeStatsFromPrometheus(t *testing.T) {
	prom := promtest.New()
	data := map[string]string{"namespace": "shop", "persistentvolumeclaim": "data-db-0", "node": "node-a"}
	prom.Answer(`kubelet_volume_stats_capacity_bytes{namespace="shop"}`, promtest.Series{Labels: data, Value: 1000},
		promtest.Series{Labels: map[string]string{"namespace": "shop"}, Value: 5}) // no claim label: not a claim's
	prom.Answer(`kubelet_volume_stats_available_bytes{namespace="shop"}`, promtest.Series{Labels: data, Value: 40})
	server := httptest.NewServer(prom)
	t.Cleanup(server.Close)

	c := &collector{opts: Options{PrometheusURL: server.URL, Namespace: "shop"}}
	stats, err := c.readVolumeStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.VolumeUsage{{Namespace: "shop", Claim: "data-db-0", Node: "node-a", CapacityBytes: 1000, AvailableBytes: 40}}
	if stats.Source != "Prometheus at "+server.URL || !slices.Equal(stats.Volumes, want) {
		t.Errorf("stats %+v, want %+v", stats, want)
	}
	if !slices.Contains(prom.Queries(), `kubelet_volume_stats_inodes_free{namespace="shop"}`) {
		t.Errorf("queries %q", prom.Queries())
	}
	for _, m := range prom.Methods() {
		if m != http.MethodGet {
			t.Errorf("a %s reached Prometheus", m)
		}
	}
}

// What keeps the usage from being read says why: no flag makes it absent from the run (not
// applicable), a Prometheus without the series or one that does not answer makes it unseen.
func TestVolumeStatsBlind(t *testing.T) {
	empty := httptest.NewServer(promtest.New())
	t.Cleanup(empty.Close)
	noSeries := promtest.New()
	for _, q := range volumeStatsQueries("") {
		noSeries.Answer(q)
	}
	answersNothing := httptest.NewServer(noSeries)
	t.Cleanup(answersNothing.Close)
	gone := httptest.NewServer(promtest.New())
	gone.Close()

	for _, tc := range []struct {
		url    string
		absent bool
		reason string
	}{
		{"", true, "--prometheus-url not given"},
		{answersNothing.URL, false, "no kubelet_volume_stats_capacity_bytes series: it does not scrape the kubelets"},
		{empty.URL, false, "Prometheus at " + empty.URL + ": "},
		{gone.URL, false, "connection refused"},
	} {
		c := &collector{opts: Options{PrometheusURL: tc.url}}
		stats, err := c.readVolumeStats(context.Background())
		reason, absent, ok := UnavailableReason(context.Background(), snapshot.KindVolumeStats, err)
		if stats != nil || !ok || absent != tc.absent || !strings.Contains(reason, tc.reason) {
			t.Errorf("%q: stats %v, reason %q (absent %t), want %q (absent %t)", tc.url, stats, reason, absent, tc.reason, tc.absent)
		}
	}
}
