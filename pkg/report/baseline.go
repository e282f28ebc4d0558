package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// BaselineKind is the kind of a --write-baseline file.
const BaselineKind = "Baseline"

// Baseline records known findings by check and objects only, so that it survives reordering,
// reworded messages and changed evidence; a finding whose objects change is a new finding.
type Baseline struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Findings   []BaselineEntry `json:"findings"`

	keys map[string]bool
}

// BaselineEntry is one known finding.
type BaselineEntry struct {
	Check    string   `json:"check"`
	Severity string   `json:"severity,omitempty"`
	Objects  []string `json:"objects"`
}

// NewBaseline records findings, in a stable order.
func NewBaseline(findings []check.Finding) *Baseline {
	b := &Baseline{APIVersion: APIVersion, Kind: BaselineKind, Findings: []BaselineEntry{}}
	for _, f := range findings {
		b.Findings = append(b.Findings, BaselineEntry{Check: f.Check, Severity: string(f.Severity), Objects: objectKeys(f.Objects)})
	}
	slices.SortFunc(b.Findings, func(x, y BaselineEntry) int { return strings.Compare(x.key(), y.key()) })
	b.Findings = slices.CompactFunc(b.Findings, func(x, y BaselineEntry) bool { return x.key() == y.key() })
	b.index()
	return b
}

// index builds the lookup Has uses. It is built once, by the constructors, so that the
// clusters of a fleet run can share one baseline without a lock.
func (b *Baseline) index() {
	b.keys = make(map[string]bool, len(b.Findings))
	for _, e := range b.Findings {
		b.keys[e.key()] = true
	}
}

// Has tells whether the baseline records a finding.
func (b *Baseline) Has(f check.Finding) bool {
	key := BaselineEntry{Check: f.Check, Objects: objectKeys(f.Objects)}.key()
	if b.keys == nil { // a Baseline not made by NewBaseline or ReadBaseline
		return slices.ContainsFunc(b.Findings, func(e BaselineEntry) bool { return e.key() == key })
	}
	return b.keys[key]
}

func (e BaselineEntry) key() string {
	objects := slices.Clone(e.Objects)
	slices.Sort(objects)
	return e.Check + "\x00" + strings.Join(objects, "\x00")
}

// objectKeys names objects as kubectl does (namespace/kind/name), without API versions, which
// change as APIs graduate; sorted, so order does not matter.
func objectKeys(refs []snapshot.Ref) []string {
	keys := make([]string, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, r.String())
	}
	slices.Sort(keys)
	return keys
}

// WriteBaseline writes a baseline file as YAML.
func WriteBaseline(file string, b *Baseline) error {
	data, err := sigsyaml.Marshal(b)
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

// maxBaselineSize bounds what is read: a baseline of a large cluster is a few megabytes.
const maxBaselineSize = 64 << 20

// ReadBaseline reads a baseline file written by WriteBaseline (YAML or JSON).
func ReadBaseline(file string) (*Baseline, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the baseline %s: %w", file, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBaselineSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the baseline %s: %w", file, err)
	}
	if len(data) > maxBaselineSize {
		return nil, fmt.Errorf("the baseline %s is larger than %d MiB", file, maxBaselineSize>>20)
	}
	var b Baseline
	if err := sigsyaml.UnmarshalStrict(data, &b); err != nil {
		return nil, fmt.Errorf("the baseline %s is not a baseline file: %s", file, snapshot.DescribeDecodeError(err))
	}
	if b.Kind != BaselineKind || b.APIVersion != APIVersion {
		return nil, fmt.Errorf("the baseline %s has apiVersion %q and kind %q; want %s %s (written by --write-baseline)", file, b.APIVersion, b.Kind, APIVersion, BaselineKind)
	}
	for i, e := range b.Findings {
		if e.Check == "" {
			return nil, fmt.Errorf("the baseline %s: finding %d has no check", file, i+1)
		}
	}
	b.index()
	return &b, nil
}

func unwrapPath(err error) error {
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}
