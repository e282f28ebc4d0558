package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// The watch act's rollout: a healthy image, then a tag the registry does not have (kwok plays
// the failed pull of any image whose reference carries testcluster.BadImageMarker).
const (
	goodImage = "registry.example.com/shop/cart:1.4"
	badImage  = "registry.example.com/shop/cart:1.5-" + testcluster.BadImageMarker
)

// settle bounds each wait of the watch act: a living cluster on a busy machine takes seconds
// to roll out, and the watch debounces before it says anything.
const settle = 3 * time.Minute

// watchAct is the demo's first act. On a living cluster (controllers, scheduler, and kwok
// playing two nodes) a healthy Deployment runs while `diagnose --watch` is open; a rollout to
// an image that cannot be pulled appears as NEW, `kubectl rollout undo` makes it RESOLVED, and
// Ctrl-C (here, SIGINT from the demo) ends the watch.
func watchAct(ctx context.Context, binary string, stdout, stderr io.Writer) error {
	// The watch's stderr is copied by exec on a goroutine of its own, beside the demo's lines.
	stderr = &lockedWriter{w: stderr}
	fmt.Fprintln(stderr, "demo: act 1, the watch: starting a living cluster on loopback (kube-apiserver, etcd, controllers, scheduler, two nodes played by kwok) ...")
	cluster, err := testcluster.Start(ctx, testcluster.Options{Living: true, Log: stderr})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if _, err := cluster.AddNodes(ctx, 2, testcluster.NodeOptions{Zones: []string{"zone-a", "zone-b"}}); err != nil {
		return err
	}
	kubectl, err := testcluster.Ensure(ctx, stderr, "kubectl")
	if err != nil {
		return err
	}
	if err := startCart(ctx, cluster); err != nil {
		return err
	}

	// The watch writes to the demo, not to the terminal: it is told what the reader sees.
	args := []string{"diagnose", "--watch", "--kubeconfig", cluster.Kubeconfig, "-n", "shop", "-o", "pretty"}
	if isTerminal(stdout) && os.Getenv("NO_COLOR") == "" {
		args = append(args, "--color", "always")
	}
	fmt.Fprintf(stderr, "demo: deployment shop/cart runs %s on both nodes, set up as the checks ask; running: kubectl alertmend %s\n\n",
		goodImage, "diagnose --watch -n shop")
	watch := exec.CommandContext(ctx, binary, args...)
	watch.Stderr = stderr
	// Only Ctrl-C ends a watch cleanly; a killed one would say nothing about how it ended.
	watch.Cancel = func() error { return watch.Process.Signal(os.Interrupt) }
	out, err := watch.StdoutPipe()
	if err != nil {
		return err
	}
	if err := watch.Start(); err != nil {
		return fmt.Errorf("running %s: %v", binary, err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(out)
		for scanner.Scan() {
			fmt.Fprintln(stdout, scanner.Text())
			lines <- scanner.Text()
		}
	}()
	ended := func() error {
		_ = watch.Process.Signal(syscall.SIGINT)
		for range lines {
		}
		if err := watch.Wait(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("the watch ended with %v", err)
		}
		return nil
	}

	steps := []struct {
		command []string
		until   string // the word of the watch's line that shows the step was seen
	}{
		{[]string{"set", "image", "deployment/cart", "cart=" + badImage, "-n", "shop"}, "NEW"},
		{[]string{"rollout", "undo", "deployment/cart", "-n", "shop"}, "RESOLVED"},
	}
	if err := firstReport(ctx, lines); err != nil {
		_ = ended()
		return err
	}
	for _, step := range steps {
		// A moment to read what the watch said before the next command.
		select {
		case <-ctx.Done():
			_ = ended()
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
		fmt.Fprintf(stderr, "\ndemo: $ kubectl %s\n", strings.Join(step.command, " "))
		run := exec.CommandContext(ctx, kubectl["kubectl"], append(step.command, "--kubeconfig", cluster.Kubeconfig)...)
		run.Stdout, run.Stderr = stderr, stderr
		if err := run.Run(); err != nil {
			_ = ended()
			return fmt.Errorf("kubectl %s: %v", strings.Join(step.command, " "), err)
		}
		if err := waitForLine(ctx, lines, step.until); err != nil {
			_ = ended()
			return err
		}
	}
	fmt.Fprintln(stderr, "\ndemo: Ctrl-C ends the watch")
	return ended()
}

// firstReport waits for the watch's first report to be written: its first line, then a moment
// without output.
func firstReport(ctx context.Context, lines <-chan string) error {
	timeout := time.After(settle)
	quiet := (<-chan time.Time)(nil)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return errors.New("the watch ended before its first report")
			}
			quiet = time.After(2 * time.Second)
		case <-quiet:
			return nil
		case <-timeout:
			return fmt.Errorf("no report from the watch within %s", settle)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitForLine waits until the watch writes a line holding word.
func waitForLine(ctx context.Context, lines <-chan string, word string) error {
	timeout := time.After(settle)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return fmt.Errorf("the watch ended before a %s line", word)
			}
			if strings.Contains(line, word) {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("the watch wrote no %s line within %s", word, settle)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

//go:embed watch-app.yaml
var watchApp []byte

// startCart loads the act's application and waits until its three replicas are available.
func startCart(ctx context.Context, cluster *testcluster.Cluster) error {
	if err := testcluster.Apply(ctx, cluster.Config, watchApp); err != nil {
		return fmt.Errorf("loading the application: %v", err)
	}
	deadline := time.Now().Add(settle)
	for {
		d, err := cluster.Client.AppsV1().Deployments("shop").Get(ctx, "cart", metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == 3 && d.Status.UpdatedReplicas == 3 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment shop/cart not available within %s", settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// lockedWriter serializes writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
