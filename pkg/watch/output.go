package watch

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// FindingEventKind is the kind of the documents of the JSON stream.
const FindingEventKind = "FindingEvent"

// Output writes a watch's events: one line each for people, or one JSON document per line.
type Output struct {
	W    io.Writer
	JSON bool
	// Color colours the lines' markers; never the JSON.
	Color bool
	// Location is the time zone of the lines' times; nil is UTC. JSON times are always UTC.
	Location *time.Location
	// Width, when set (a terminal's), cuts each line to that many columns, so that one change
	// is one line on the screen; 0 leaves lines whole.
	Width int
}

// findingEvent is one document of the JSON stream.
type findingEvent struct {
	APIVersion   string               `json:"apiVersion"`
	Kind         string               `json:"kind"`
	Type         EventType            `json:"type"`
	Time         string               `json:"time"`
	Finding      *check.Finding       `json:"finding,omitempty"`
	Changes      []string             `json:"changes,omitempty"`
	NotEvaluated *report.NotEvaluated `json:"notEvaluated,omitempty"`
}

// Write writes events that an evaluation at at found.
func (o Output) Write(at time.Time, events []Event) error {
	var b strings.Builder
	for _, e := range events {
		if o.JSON {
			doc := findingEvent{APIVersion: report.APIVersion, Kind: FindingEventKind, Type: e.Type, Time: at.UTC().Format(time.RFC3339)}
			if e.Type == NotEvaluated {
				doc.NotEvaluated = &e.NotEvaluated
			} else {
				doc.Finding = &e.Finding
				doc.Changes = e.Changes
			}
			// As -o json writes a report: empty lists as [], one document a line.
			render.EmptyLists(&doc)
			if err := json.NewEncoder(&b).Encode(doc); err != nil {
				return err
			}
			continue
		}
		b.WriteString(o.line(at, e))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(o.W, b.String())
	return err
}

// ANSI colours of the markers; the rest of a line stays plain.
const (
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	green  = "\x1b[32m"
	grey   = "\x1b[90m"
	reset  = "\x1b[0m"
)

// line is one event for people: the local time, the marker, the severity, the check and what
// it is about. Cluster data is made safe for a terminal.
func (o Output) line(at time.Time, e Event) string {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	clock := at.In(loc).Format("15:04:05")
	var marker, colour, text string
	f := e.Finding
	switch e.Type {
	case New:
		marker, colour, text = "+ NEW", yellow, f.Message
		if f.Severity == check.Critical || f.Severity == check.High {
			colour = red
		}
	case Changed:
		marker, colour, text = "~ CHANGED", yellow, strings.Join(e.Changes, "; ")
	case Resolved:
		marker, colour, text = "- RESOLVED", green, f.Message
	case NotEvaluated:
		return o.fit(clock, "? NOT EVAL", grey, fmt.Sprintf("%-8s  %s  %s", "", render.TerminalSafe(e.NotEvaluated.Check),
			render.TerminalSafe("not evaluated any more: "+e.NotEvaluated.Reason)))
	}
	return o.fit(clock, marker, colour, fmt.Sprintf("%-8s  %s  %s: %s", f.Severity, render.TerminalSafe(f.Check),
		render.TerminalSafe(objectsOf(f)), render.TerminalSafe(text)))
}

// fit joins a line's parts, cut to Width, with the marker coloured (the colour codes take no
// column).
func (o Output) fit(clock, marker, colour, rest string) string {
	marker = fmt.Sprintf("%-10s", marker)
	if o.Width > 0 {
		rest = render.Truncate(rest, o.Width-len(clock)-len(marker)-2)
	}
	if o.Color {
		marker = colour + marker + reset
	}
	return clock + " " + marker + " " + rest
}
