package dns

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/memtest"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// largestHostsList is the most hosts entries that hostsCorefile fits in a ConfigMap.
const largestHostsList = 24900

// hostsCorefile is the healthy fixture's Corefile with a hosts block of entries lines.
func hostsCorefile(entries int) string {
	var b strings.Builder
	b.WriteString(".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n" +
		"    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n    }\n" +
		"    hosts {\n")
	for i := range entries {
		fmt.Fprintf(&b, "        10.%d.%d.%d host-%d.example.com\n", i>>16&255, i>>8&255, i&255, i)
	}
	b.WriteString("        fallthrough\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n}\n")
	return b.String()
}

func withCorefile(t testing.TB, text string) *snapshot.Snapshot {
	t.Helper()
	s := withHealthyProbes(fixture.Load(t, healthy))
	s.ConfigMaps[0].Data["Corefile"] = text
	return s
}

// A Corefile of a million hosts entries (42 MiB) is more than a ConfigMap holds: reported, not parsed.
func TestOversizeCorefileIsReportedUnparsed(t *testing.T) {
	text := hostsCorefile(1000000)
	s := withCorefile(t, text)
	var got []string
	alloc := memtest.Allocated(func() { got = runFamily(s, nil) })
	if want := []string{"critical dns-corefile-invalid " + configMap + "," + deployment}; !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	msg := CorefileInvalid{}.Run(s)[0].Message
	if !strings.Contains(msg, "key Corefile is too large: 42.3 MiB, more than the 1 MiB the API server accepts") {
		t.Errorf("message %q", msg)
	}
	// Parsing it would allocate some 4 GB.
	if alloc > memtest.RaceFactor*uint64(len(text)) {
		t.Errorf("the family allocated %d MiB on a %d MiB Corefile: it was parsed", alloc>>20, len(text)>>20)
	}
}

// The largest Corefile a ConfigMap can hold, nearly all hosts entries, is judged by every check,
// the migration table's included.
func TestLargestCorefileIsJudged(t *testing.T) {
	text := hostsCorefile(largestHostsList)
	if len(text) > maxCorefileSize || len(text) < maxCorefileSize*9/10 {
		t.Fatalf("the Corefile is %d bytes, want just under %d", len(text), maxCorefileSize)
	}
	s := withCorefile(t, text)
	var got []string
	alloc := memtest.Allocated(func() { got = runFamily(s, nil) })
	if len(got) != 0 {
		t.Errorf("findings %q, want none", got)
	}
	if reason := (RemovedPlugin{}).NotEvaluable(s); reason != "" {
		t.Errorf("RemovedPlugin.NotEvaluable = %q", reason)
	}
	// Measured: 90 bytes per byte of Corefile, parsed once for the family. Parsing it for each
	// check took 20 times that, and the migration table reading every entry 200 times.
	if limit := memtest.RaceFactor * (400 * uint64(len(text))); alloc > limit {
		t.Errorf("the family allocated %d MiB on a %d KiB Corefile", alloc>>20, len(text)>>10)
	}

	// The migration table still judges the rest of such a Corefile, the hosts plugin's own options included.
	proxied := strings.Replace(text, "forward . /etc/resolv.conf", "proxy . /etc/resolv.conf", 1)
	if got := fixture.Summaries(RemovedPlugin{}.Run(withCorefile(t, proxied))); !slices.Equal(got, []string{"high dns-corefile-removed-plugin " + configMap + "," + deployment}) {
		t.Errorf("RemovedPlugin with %d hosts entries and proxy: %q", largestHostsList, got)
	}
}

func TestWithoutHostsEntries(t *testing.T) {
	in := ".:53 {\n  hosts /etc/hosts example.org {\n    10.0.0.1 a.example.org\n    fd00::1 b.example.org\n    ttl 60\n    fallthrough\n  }\n  forward . 10.0.0.53\n}\n"
	want := ".:53 {\n  hosts /etc/hosts example.org {\n\n\n    ttl 60\n    fallthrough\n  }\n  forward . 10.0.0.53\n}\n"
	if got := withoutHostsEntries(in); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// BenchmarkFamilyOnLargestCorefile runs the DNS checks on a Corefile of the largest size a
// ConfigMap holds: about 0.2 seconds and 90 MB allocated, against 22 seconds and 20 GB when
// each check parsed it and the migration table read every hosts entry.
func BenchmarkFamilyOnLargestCorefile(b *testing.B) {
	text := hostsCorefile(largestHostsList)
	s := withCorefile(b, text)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s.ForgetDerived() // parse it again
		runFamily(s, nil)
	}
}
