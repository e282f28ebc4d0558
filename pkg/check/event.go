package check

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// maxEventMessage bounds an event's message in evidence: a probe's output or a runtime's error
// can run to kilobytes, and one line of a finding must stay a line.
const maxEventMessage = 240

// EventLine is an event as one line of evidence, its reason, when it last happened and how many
// times, then its message: "Unhealthy, last: 3m ago, x41: Readiness probe failed: ...".
func EventLine(e *corev1.Event, now time.Time) string {
	line := e.Reason + ", last: " + Ago(snapshot.LastSeen(e), now)
	if n := snapshot.EventCount(e); n > 1 {
		line += fmt.Sprintf(", x%d", n)
	}
	if message := OneLine(e.Message, maxEventMessage); message != "" {
		line += ": " + message
	}
	return line
}

// OneLine is text with its runs of white space (line breaks included) made one space, cut to
// at most limit characters, "..." marking a cut.
func OneLine(text string, limit int) string {
	text = strings.Join(strings.Fields(text), " ")
	runes := []rune(text)
	if len(runes) <= limit {
		return text
	}
	return strings.TrimRight(string(runes[:max(limit-3, 0)]), " ") + "..."
}
