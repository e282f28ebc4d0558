package collect

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/alertmend/kubectl-alertmend/pkg/redact"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The kubelet exports these series for every PersistentVolumeClaim mounted on its node.
const (
	metricVolumeCapacity   = "kubelet_volume_stats_capacity_bytes"
	metricVolumeAvailable  = "kubelet_volume_stats_available_bytes"
	metricVolumeInodes     = "kubelet_volume_stats_inodes"
	metricVolumeInodesFree = "kubelet_volume_stats_inodes_free"
)

// volumeStatsQueries are the instant queries, each a GET, limited to the run's namespace.
func volumeStatsQueries(namespace string) []string {
	selector := ""
	if namespace != "" {
		selector = fmt.Sprintf("{namespace=%q}", namespace)
	}
	var out []string
	for _, metric := range []string{metricVolumeCapacity, metricVolumeAvailable, metricVolumeInodes, metricVolumeInodesFree} {
		out = append(out, metric+selector)
	}
	return out
}

// readVolumeStats asks the Prometheus of --prometheus-url for the kubelets' volume stats. The
// kubelets' own endpoints are not scraped: only a Prometheus has every node's at once. Without
// the flag there is nothing to read, which makes the kind absent from the run, not unseen.
func (c *collector) readVolumeStats(ctx context.Context) (*snapshot.VolumeStats, error) {
	address := c.opts.PrometheusURL
	if address == "" {
		return nil, &blindError{absent: true, reason: "--prometheus-url not given: the kubelets' volume usage " +
			"(kubelet_volume_stats_*) is read from a Prometheus that scrapes them"}
	}
	label := "Prometheus at " + redact.URL(address)
	api, err := newPrometheusAPI(address, http.DefaultTransport)
	if err != nil {
		return nil, &blindError{reason: label + ": " + strings.ReplaceAll(err.Error(), address, redact.URL(address))}
	}
	queries := volumeStatsQueries(c.opts.Namespace)
	answers := queryVectors(ctx, api, queries)
	// Capacity and available bytes are what the checks judge; inodes only sharpen them.
	for _, a := range answers[:2] {
		if a.err != nil {
			return nil, &blindError{reason: label + ": " + prometheusErrorText(a.err).Error()}
		}
	}
	if len(answers[0].vector) == 0 {
		return nil, &blindError{reason: label + ": no " + metricVolumeCapacity + " series: it does not scrape the kubelets' " +
			"/metrics, or no PersistentVolumeClaim is mounted"}
	}
	type key struct{ namespace, claim string }
	byClaim := map[key]*snapshot.VolumeUsage{}
	var order []key
	usage := func(m model.Metric) *snapshot.VolumeUsage {
		k := key{string(m["namespace"]), string(m["persistentvolumeclaim"])}
		if k.claim == "" {
			return nil
		}
		if byClaim[k] == nil {
			byClaim[k] = &snapshot.VolumeUsage{Namespace: k.namespace, Claim: k.claim, Node: string(m["node"])}
			order = append(order, k)
		}
		return byClaim[k]
	}
	fields := []func(*snapshot.VolumeUsage) *float64{
		func(v *snapshot.VolumeUsage) *float64 { return &v.CapacityBytes },
		func(v *snapshot.VolumeUsage) *float64 { return &v.AvailableBytes },
		func(v *snapshot.VolumeUsage) *float64 { return &v.Inodes },
		func(v *snapshot.VolumeUsage) *float64 { return &v.InodesFree },
	}
	for i, a := range answers {
		if a.err != nil {
			continue // inodes unknown: left at 0, which the checks read as not reported
		}
		for _, sample := range a.vector {
			if v := usage(sample.Metric); v != nil {
				// Two jobs scraping the same kubelet give the same series twice; a claim mounted on
				// two nodes (ReadWriteMany) reports the same filesystem from each.
				*fields[i](v) = float64(sample.Value)
			}
		}
	}
	stats := &snapshot.VolumeStats{Source: label}
	for _, k := range order {
		stats.Volumes = append(stats.Volumes, *byClaim[k])
	}
	return stats, nil
}
