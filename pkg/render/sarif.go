package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	// toolName names the tool in the formats that record what produced them.
	toolName     = "kubectl-alertmend"
	sarifToolURI = "https://github.com/alertmend/kubectl-alertmend"
	// sarifSchemaURI is the schema the library validates against: SARIF 2.1.0 with errata 01.
	sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// sarifFingerprintKey versions the fingerprint: change the key, never the recipe behind it,
	// or every dashboard sees all findings as new.
	sarifFingerprintKey = "alertmendFinding/v1"
	// sarifSourceRoot is the base relative manifest paths resolve against; the consumer (a
	// code-scanning upload, for example) knows where the checkout is.
	sarifSourceRoot = "%SRCROOT%"
)

// writeSarif renders r as a SARIF 2.1.0 log of one run. Text is kept as the cluster wrote it,
// like -o json: JSON escapes control characters, and viewers show messages as plain text.
func writeSarif(w io.Writer, r *report.Report, opts Options) error {
	doc, err := json.MarshalIndent(buildSarif(r, opts), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(doc, '\n'))
	return err
}

func buildSarif(r *report.Report, opts Options) *sarif.Report {
	rules := sarifRules(r, opts.Catalog)
	ruleIndex := make(map[string]int, len(rules))
	for i, rule := range rules {
		ruleIndex[*rule.ID] = i
	}

	driver := sarif.NewToolComponent()
	driver.WithName(toolName).WithInformationURI(sarifToolURI).WithRules(rules)
	if opts.ToolVersion != "" {
		driver.WithVersion(opts.ToolVersion)
	}

	run := sarif.NewRun()
	run.WithTool(sarif.NewTool().WithDriver(driver))
	run.WithInvocations([]*sarif.Invocation{sarifInvocation(r, ruleIndex)})
	run.WithProperties(sarifRunProperties(r))

	for _, f := range r.Findings {
		run.AddResult(sarifResult(f, ruleIndex, opts.Baseline))
	}
	for _, s := range r.Suppressed {
		result := sarifResult(s.Finding, ruleIndex, opts.Baseline)
		suppression := sarif.NewSuppression().WithKind("external").WithStatus("accepted")
		if s.Reason != "" {
			suppression.WithJustification(s.Reason)
		}
		result.WithSuppressions([]*sarif.Suppression{suppression})
		result.Properties.Add("suppressedBy", s.By)
		run.AddResult(result)
	}

	doc := sarif.NewReport()
	doc.Schema = sarifSchemaURI
	doc.AddRun(run)
	return doc
}

// sarifRules describes every selected check, sorted by ID, so dashboards know the rules that
// found nothing too (that is how they close alerts). Checks the catalog does not know, or every
// check when there is no catalog, are described from their findings.
func sarifRules(r *report.Report, catalog []check.Meta) []*sarif.ReportingDescriptor {
	byID := map[string]*sarif.ReportingDescriptor{}
	for _, m := range catalog {
		if _, dup := byID[m.ID]; dup {
			continue
		}
		help := m.Why
		if m.Remediation != "" {
			help = strings.TrimSpace(help + "\n\n" + m.Remediation)
		}
		if len(m.References) > 0 {
			help += "\n\nReferences:\n" + strings.Join(m.References, "\n")
		}
		rule := sarifRule(m.ID, m.Title, m.Category, m.Severity)
		if m.Description != "" {
			rule.WithFullDescription(sarif.NewMultiformatMessageString().WithText(m.Description))
		}
		if help != "" {
			rule.WithHelp(sarif.NewMultiformatMessageString().WithText(help))
		}
		if uri := HelpURI(m); uri != "" {
			rule.WithHelpURI(uri)
		}
		byID[m.ID] = rule
	}

	reported := slices.Clone(r.Findings)
	for _, s := range r.Suppressed {
		reported = append(reported, s.Finding)
	}
	for _, f := range reported {
		if _, known := byID[f.Check]; known {
			continue
		}
		rule := sarifRule(f.Check, f.Title, f.Category, f.Severity)
		if f.Remediation != "" {
			rule.WithHelp(sarif.NewMultiformatMessageString().WithText(f.Remediation))
		}
		byID[f.Check] = rule
	}

	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rules := make([]*sarif.ReportingDescriptor, 0, len(ids))
	for _, id := range ids {
		rules = append(rules, byID[id])
	}
	return rules
}

func sarifRule(id, title string, category check.Category, severity check.Severity) *sarif.ReportingDescriptor {
	rule := sarif.NewRule(id).WithName(pascalCase(id))
	if title != "" {
		rule.WithShortDescription(sarif.NewMultiformatMessageString().WithText(title))
	}
	rule.WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(severity)))
	props := sarif.NewPropertyBag()
	props.Add("category", string(category))
	props.Add("severity", string(severity))
	props.Add("security-severity", securitySeverity(severity))
	if category != "" {
		props.AddTag(string(category))
	}
	return rule.WithProperties(props)
}

func sarifResult(f check.Finding, ruleIndex map[string]int, baseline bool) *sarif.Result {
	result := sarif.NewRuleResult(f.Check).
		WithRuleIndex(ruleIndex[f.Check]).
		WithLevel(sarifLevel(f.Severity)).
		WithMessage(sarif.NewTextMessage(sarifMessage(f))).
		WithLocations(sarifLocations(f)).
		WithPartialFingerprints(map[string]string{sarifFingerprintKey: findingFingerprint(f)})
	if baseline {
		state := "new"
		if f.Baselined {
			state = "unchanged"
		}
		result.WithBaselineState(state)
	}

	objects := make([]string, 0, len(f.Objects))
	for _, o := range f.Objects {
		objects = append(objects, o.String())
	}
	fix := f.Fix
	if fix == nil {
		fix = []string{}
	}
	props := sarif.NewPropertyBag()
	props.Add("severity", string(f.Severity))
	props.Add("incident", f.Incident)
	props.Add("category", string(f.Category))
	props.Add("objects", objects)
	props.Add("fix", fix)
	return result.WithProperties(props)
}

// sarifMessage is the finding's message with its evidence, one observation a line.
func sarifMessage(f check.Finding) string {
	if len(f.Evidence) == 0 {
		return f.Message
	}
	return f.Message + "\n\nEvidence:\n- " + strings.Join(f.Evidence, "\n- ")
}

// sarifLocations places a finding. When every object has a file, each location is the file
// and line together with the object; otherwise the files cannot be paired with the objects, so
// the files come first and every object follows as a logical location of its own.
func sarifLocations(f check.Finding) []*sarif.Location {
	paired := len(f.Locations) == len(f.Objects)
	locations := make([]*sarif.Location, 0, len(f.Objects)+len(f.Locations))
	for i, origin := range f.Locations {
		location := sarif.NewLocationWithPhysicalLocation(sarifPhysicalLocation(origin))
		if paired {
			location.AddLogicalLocation(sarifLogicalLocation(f.Objects[i]))
		}
		locations = append(locations, location)
	}
	if !paired {
		for _, o := range f.Objects {
			locations = append(locations, sarif.NewLocation().AddLogicalLocation(sarifLogicalLocation(o)))
		}
	}
	return locations
}

func sarifPhysicalLocation(origin snapshot.Origin) *sarif.PhysicalLocation {
	artifact := sarif.NewArtifactLocation()
	if filepath.IsAbs(origin.File) {
		p := filepath.ToSlash(origin.File)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // a Windows drive: file:///C:/...
		}
		artifact.WithURI((&url.URL{Scheme: "file", Path: p}).String())
	} else {
		// url.URL escapes what a URI may not hold, and guards a first segment with a colon.
		artifact.WithURI((&url.URL{Path: filepath.ToSlash(origin.File)}).String()).WithURIBaseID(sarifSourceRoot)
	}
	location := sarif.NewPhysicalLocation().WithArtifactLocation(artifact)
	if origin.Line > 0 {
		location.WithRegion(sarif.NewRegion().WithStartLine(origin.Line))
	}
	return location
}

func sarifLogicalLocation(o snapshot.Ref) *sarif.LogicalLocation {
	return sarif.NewLogicalLocation().WithName(o.Name).WithFullyQualifiedName(o.String()).WithKind("object")
}

func sarifInvocation(r *report.Report, ruleIndex map[string]int) *sarif.Invocation {
	invocation := sarif.NewInvocation().WithExecutionSuccessful(true)
	if !r.Metadata.GeneratedAt.IsZero() {
		invocation.WithEndTimeUtc(r.Metadata.GeneratedAt.UTC().Format(time.RFC3339))
	}
	for _, ne := range r.NotEvaluated {
		level := sarif.LevelWarning
		if !ne.Incomplete() {
			level = sarif.LevelNote // nothing is missing from the analysis
		}
		notification := sarif.NewNotification().
			WithLevel(level).
			WithDescriptor(sarif.NewReportingDescriptorReference().WithID(ne.Check)).
			WithMessage(sarif.NewTextMessage(ne.Reason))
		if i, ok := ruleIndex[ne.Check]; ok {
			notification.WithAssociatedRule(sarif.NewReportingDescriptorReference().WithID(ne.Check).WithIndex(i))
		}
		invocation.AddToolExecutionNotification(notification)
	}
	return invocation
}

// sarifRunProperties records what was diagnosed, which SARIF has no field for.
func sarifRunProperties(r *report.Report) *sarif.PropertyBag {
	props := sarif.NewPropertyBag()
	m := r.Metadata
	for key, value := range map[string]string{"source": m.Source, "context": m.Context, "server": m.Server, "namespace": m.Namespace} {
		if value != "" {
			props.Add(key, value)
		}
	}
	return props
}

// findingFingerprint identifies a finding by its check and objects only, so it survives
// rewording of the message and changes of evidence between runs.
func findingFingerprint(f check.Finding) string {
	objects := make([]string, 0, len(f.Objects))
	for _, o := range f.Objects {
		objects = append(objects, o.String())
	}
	slices.Sort(objects)
	// Kubernetes names never hold NUL, so joining on it keeps the parts apart.
	sum := sha256.Sum256([]byte(strings.Join(append([]string{f.Check}, objects...), "\x00")))
	return hex.EncodeToString(sum[:])
}

func sarifLevel(s check.Severity) string {
	switch s {
	case check.Critical, check.High:
		return sarif.LevelError
	case check.Medium:
		return sarif.LevelWarning
	default:
		return sarif.LevelNote
	}
}

// securitySeverity is GitHub's CVSS-like score, which it reads as a string and buckets into
// critical (9.0+), high (7.0+), medium (4.0+) and low.
func securitySeverity(s check.Severity) string {
	switch s {
	case check.Critical:
		return "9.5"
	case check.High:
		return "8.0"
	case check.Medium:
		return "5.5"
	case check.Low:
		return "3.0"
	default:
		return "1.0"
	}
}

// pascalCase turns a kebab-case check ID into the rule name SARIF viewers expect.
func pascalCase(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// HelpURI is the web page that documents check m: its first reference when that is a web
// address, else "". SARIF's rules and the alerts' runbook annotation link to it.
func HelpURI(m check.Meta) string {
	if len(m.References) > 0 && isWebURL(m.References[0]) {
		return m.References[0]
	}
	return ""
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
