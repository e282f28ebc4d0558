package snapshot

// VolumeStats is the kubelets' report of the volumes mounted on their nodes, as a Prometheus
// that scrapes them holds it (kubelet_volume_stats_*).
type VolumeStats struct {
	// Source names where the numbers came from, e.g. "Prometheus at http://127.0.0.1:9090".
	Source string `json:"source"`
	// Volumes holds one measurement per claim, sorted by namespace and claim.
	Volumes []VolumeUsage `json:"volumes"`
}

// VolumeUsage is one PersistentVolumeClaim's filesystem as the kubelet mounting it sees it.
type VolumeUsage struct {
	Namespace string `json:"namespace"`
	Claim     string `json:"claim"`
	// Node is the node whose kubelet reported it, when the series say.
	Node string `json:"node,omitempty"`
	// CapacityBytes and AvailableBytes are kubelet_volume_stats_capacity_bytes and
	// _available_bytes; a capacity of 0 means it was not reported.
	CapacityBytes  float64 `json:"capacityBytes"`
	AvailableBytes float64 `json:"availableBytes"`
	// Inodes and InodesFree are kubelet_volume_stats_inodes and _inodes_free; 0 inodes means
	// not reported (some filesystems have no fixed inode count).
	Inodes     float64 `json:"inodes,omitempty"`
	InodesFree float64 `json:"inodesFree,omitempty"`
}

// UsedRatio is the share of the capacity in use; 0 when the capacity is unknown.
func (v *VolumeUsage) UsedRatio() float64 {
	if v.CapacityBytes <= 0 {
		return 0
	}
	return (v.CapacityBytes - v.AvailableBytes) / v.CapacityBytes
}
