// Command ensure-tools builds (once per machine) the kube-apiserver, etcd, kubectl, node_exporter
// and Pushgateway that the tests and the demo run, so `make test` pays for the build before any
// test's timeout starts.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

func main() {
	bins, err := testcluster.EnsureBinaries(context.Background(), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ensure-tools:", err)
		os.Exit(1)
	}
	pushgateway, err := testcluster.EnsurePushgateway(context.Background(), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ensure-tools:", err)
		os.Exit(1)
	}
	fmt.Printf("kube-apiserver: %s\netcd:           %s\nkubectl:        %s\nnode_exporter:  %s\npushgateway:    %s\n",
		bins.APIServer, bins.Etcd, bins.Kubectl, bins.NodeExporter, pushgateway)
}
