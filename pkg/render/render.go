// Package render turns a Report into what people and machines read. Machine formats never carry
// colour codes; people's formats are coloured only when the caller says the output is a terminal.
package render

import (
	"encoding/json"
	"io"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// Format is an -o/--output value.
type Format string

const (
	Pretty Format = "pretty"
	Table  Format = "table"
	Wide   Format = "wide"
	JSON   Format = "json"
	YAML   Format = "yaml"
	// Sarif is SARIF 2.1.0, for code-scanning dashboards such as GitHub's.
	Sarif Format = "sarif"
	// JUnit is JUnit XML, for CI systems that show test reports.
	JUnit Format = "junit"
	// Markdown is a checklist to paste into an incident ticket.
	Markdown Format = "markdown"
	// Prometheus is the text exposition format, for a textfile collector or a Pushgateway.
	Prometheus Format = "prometheus"
)

// Formats lists every output format some document can be written in.
func Formats() []Format {
	return DocumentReport.Formats()
}

// Options controls rendering.
type Options struct {
	// Color is for people's formats only.
	Color bool
	// FailOn is the gate's lowest failing severity ("" for none), for formats that mark
	// failures (JUnit).
	FailOn check.Severity
	// Catalog is the metadata of the selected checks; SARIF describes its rules from it. Nil
	// leaves only what the findings say about their checks.
	Catalog []check.Meta
	// Baseline is true when the run compared its findings against a --baseline file.
	Baseline bool
	// ToolVersion names the build in the formats that record what produced them.
	ToolVersion string
	// Duration is how long the run took, for the formats that record it (Prometheus).
	Duration time.Duration
	// Width is the terminal's width in columns, which people's formats are laid out for; 0
	// lays them out for DefaultWidth.
	Width int
}

// Write renders r in format f.
func Write(w io.Writer, r *report.Report, f Format, opts Options) error {
	switch f {
	case JSON:
		return writeJSON(w, r)
	case YAML:
		return writeYAML(w, r)
	case Table:
		return writeTable(w, terminalSafeReport(r), false)
	case Wide:
		return writeTable(w, terminalSafeReport(r), true)
	case Sarif:
		return writeSarif(w, r, opts)
	case JUnit:
		return writeJUnit(w, r, opts)
	case Markdown:
		return writeMarkdown(w, r, opts)
	case Prometheus:
		return writePrometheus(w, r, opts)
	default:
		return writePretty(w, terminalSafeReport(r), opts)
	}
}

func writeJSON(w io.Writer, v any) error {
	EmptyLists(v)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeYAML(w io.Writer, v any) error {
	EmptyLists(v)
	out, err := sigsyaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// WriteData renders any value as JSON or YAML, for commands such as `checks -o json`.
func WriteData(w io.Writer, v any, f Format) error {
	if f == YAML {
		return writeYAML(w, v)
	}
	return writeJSON(w, v)
}
