//go:build e2e

package testcluster

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A build says once a tick what it is building and for how long, and stops saying it when done.
func TestHeartbeatSaysWhatIsBuildingAndForHowLong(t *testing.T) {
	start := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	ticks := make(chan time.Time)
	done := make(chan struct{})
	var log bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { heartbeat(&log, "kube-apiserver", start, ticks, done) })
	// Each send returns once heartbeat has taken the tick; it writes before it looks at done.
	ticks <- start.Add(time.Minute + 300*time.Millisecond)
	ticks <- start.Add(2*time.Minute + 59*time.Second)
	ticks <- start.Add(12*time.Minute + 5*time.Second)
	close(done)
	wg.Wait()

	want := "testcluster: still building kube-apiserver, 1m00s so far\n" +
		"testcluster: still building kube-apiserver, 2m59s so far\n" +
		"testcluster: still building kube-apiserver, 12m05s so far\n"
	if log.String() != want {
		t.Errorf("heartbeat wrote\n%s\nwant\n%s", log.String(), want)
	}
}

func TestHeartbeatIsSilentForABuildShorterThanATick(t *testing.T) {
	done := make(chan struct{})
	close(done)
	var log bytes.Buffer
	heartbeat(&log, "etcd", time.Now(), make(chan time.Time), done)
	if log.Len() != 0 {
		t.Errorf("a build that ended before the first tick wrote %q", log.String())
	}
}

// An unknown name is refused before anything is built, and the error lists the known names.
func TestEnsureRefusesAnUnknownToolBeforeBuildingAny(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ALERTMEND_TOOLS_DIR", dir)
	var log bytes.Buffer
	_, err := Ensure(context.Background(), &log, "etcd", "kube-apiservr")
	if err == nil || !strings.Contains(err.Error(), `unknown tool "kube-apiservr"`) || !strings.Contains(err.Error(), "kube-apiserver, etcd") {
		t.Fatalf("err = %v, want the unknown name and the known ones", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 || log.Len() != 0 {
		t.Errorf("the cache holds %v and the log says %q after a refused request", entries, log.String())
	}
}

func TestTheNamedSetsAreInTheCatalog(t *testing.T) {
	for _, name := range slices.Concat(ControlPlaneTools(), TestTools()) {
		if !slices.Contains(ToolNames(), name) {
			t.Errorf("%s is in a set but not in the catalog", name)
		}
	}
	if !slices.Equal(TestTools()[:2], ControlPlaneTools()) {
		t.Errorf("the test set %v does not start with the control plane %v", TestTools(), ControlPlaneTools())
	}
}
