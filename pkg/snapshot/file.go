package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The header of a recorded snapshot; the format is versioned like the report.
const (
	FileAPIVersion = "alertmend.io/v1alpha1"
	FileKind       = "Snapshot"
	// MaxFileSize bounds what a snapshot may expand to when read: a 50,000-pod cluster
	// records a few hundred megabytes, and a hostile file must not exhaust memory.
	MaxFileSize = 2 << 30
)

// File is a recorded snapshot as written to disk: gzip-compressed JSON. Its JSON is an object
// of apiVersion, kind, metadata, unavailable and absent, then each kind's data under its field name
// (see kindTable), in the table's order, left out when empty.
type File struct {
	APIVersion string
	Kind       string
	Metadata   FileMetadata
	// Unavailable keeps what could not be read and why, so a replay is as blind as the run was.
	Unavailable map[Kind]string
	// Absent lists the unavailable kinds that were not there to be read (see Snapshot.Absent),
	// sorted; a file without it replays every unavailable kind as one that could not be seen.
	Absent []Kind

	// recorded holds the kinds' data, each in the field a Snapshot has for it; only those
	// fields of it are used.
	recorded *Snapshot
}

// FileMetadata says where and when the state was read, and which kinds were asked for.
type FileMetadata struct {
	Context     string    `json:"context,omitempty"`
	Server      string    `json:"server,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	CollectedAt time.Time `json:"collectedAt"`
	Tool        string    `json:"tool,omitempty"`
	// Kinds lists what was read (or tried); a check needing anything else is not evaluated on
	// replay rather than judging an absence that was never looked at.
	Kinds []Kind `json:"kinds"`
	// EventsLeftOut is Snapshot.EventsLeftOut: a replay says, as the run did, that events were cut.
	EventsLeftOut int `json:"eventsLeftOut,omitempty"`
}

// Record turns a collected snapshot into what is written for sharing: ConfigMaps keep only the
// data the checks read (keep), and what could carry credentials or bulk is dropped: container
// environment values, kubectl's last-applied-configuration copies, and managed fields (but for
// their slim form, who changed what when, on the kinds that keep it: see KindInfo.ChangeTimes).
// Secrets are never in a snapshot to begin with. The snapshot itself is left as it was.
func Record(s *Snapshot, kinds []Kind, keep []ConfigMapKey, tool string) *File {
	f := &File{
		APIVersion: FileAPIVersion, Kind: FileKind,
		Metadata: FileMetadata{Context: s.Context, Server: s.Server, Namespace: s.Namespace, CollectedAt: s.CollectedAt.UTC(),
			Tool: tool, Kinds: slices.Sorted(slices.Values(kinds)), EventsLeftOut: s.EventsLeftOut},
		Unavailable: s.Unavailable,
		recorded:    &Snapshot{},
	}
	for k := range s.Absent {
		f.Absent = append(f.Absent, k)
	}
	slices.Sort(f.Absent)
	for _, e := range kindEntries {
		e.data.record(f.recorded, s, keep)
	}
	return f
}

// ObjectCount is how many Kubernetes objects the file holds, of every kind; probes' answers
// are not objects.
func (f *File) ObjectCount() int {
	n := 0
	for _, e := range kindEntries {
		if objects, ok := e.data.(objectData); ok && f.recorded != nil {
			n += objects.count(f.recorded)
		}
	}
	return n
}

// keptData copies ConfigMaps with only the data keys named in keep.
func keptData(configMaps []corev1.ConfigMap, keep []ConfigMapKey) []corev1.ConfigMap {
	out := make([]corev1.ConfigMap, 0, len(configMaps))
	for _, cm := range configMaps {
		kept := corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}
		for _, k := range keep {
			if value, ok := cm.Data[k.Key]; ok && k.Namespace == cm.Namespace && k.Name == cm.Name {
				if kept.Data == nil {
					kept.Data = map[string]string{}
				}
				kept.Data[k.Key] = value
			}
		}
		out = append(out, kept)
	}
	return out
}

// lastAppliedAnnotation is kubectl apply's copy of the whole object as applied, ConfigMap data
// and environment values included.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// SlimMeta drops from o what no check reads and no recording keeps: managedFields (their slim
// form when changeTimes is set, as KindInfo.ChangeTimes says) and kubectl's last-applied copy.
// The annotations are copied before the change: o may share them with another object.
func SlimMeta(o metav1.Object, changeTimes bool) {
	if changeTimes {
		o.SetManagedFields(SlimManagedFields(o.GetManagedFields()))
	} else {
		o.SetManagedFields(nil)
	}
	if annotations := o.GetAnnotations(); annotations[lastAppliedAnnotation] != "" {
		copied := maps.Clone(annotations)
		delete(copied, lastAppliedAnnotation)
		o.SetAnnotations(copied)
	}
}

// scrubbed copies items without managed fields (their slim form when changeTimes is set),
// last-applied copies and, in the pod spec that spec finds (a nil spec for none), environment
// values. Maps and slices it changes are copied first: the items share them with the live snapshot.
func scrubbed[T any, PT interface {
	*T
	metav1.Object
}](items []T, spec func(*T) *corev1.PodSpec, changeTimes bool) []T {
	if len(items) == 0 {
		return nil
	}
	out := slices.Clone(items)
	for i := range out {
		SlimMeta(PT(&out[i]), changeTimes)
		if spec == nil {
			continue
		}
		if ps := spec(&out[i]); ps != nil {
			ps.InitContainers = withoutEnvValues(ps.InitContainers)
			ps.Containers = withoutEnvValues(ps.Containers)
			ephemeral := slices.Clone(ps.EphemeralContainers)
			for j := range ephemeral {
				ephemeral[j].Env = envWithoutValues(ephemeral[j].Env)
			}
			ps.EphemeralContainers = ephemeral
		}
	}
	return out
}

func withoutEnvValues(containers []corev1.Container) []corev1.Container {
	out := slices.Clone(containers)
	for i := range out {
		out[i].Env = envWithoutValues(out[i].Env)
	}
	return out
}

// envWithoutValues keeps variables' names and references (to ConfigMaps, Secrets, fields) but
// not literal values, where people too often paste tokens.
func envWithoutValues(env []corev1.EnvVar) []corev1.EnvVar {
	out := slices.Clone(env)
	for i := range out {
		out[i].Value = ""
	}
	return out
}

// Write writes a recorded snapshot, gzip-compressed.
func (f *File) Write(w io.Writer) error {
	zw := gzip.NewWriter(w)
	if err := f.encode(zw); err != nil {
		return err
	}
	if _, err := zw.Write([]byte("\n")); err != nil {
		return err
	}
	return zw.Close()
}

// MarshalJSON writes the file's JSON, as Write does before compressing it.
func (f *File) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	err := f.encode(&buf)
	return buf.Bytes(), err
}

// encode writes the file's JSON one field at a time, each kind's data as encoding/json writes
// it, so that no copy of the whole document is held.
func (f *File) encode(w io.Writer) error {
	header := []struct {
		name  string
		value any
		omit  bool
	}{
		{"apiVersion", f.APIVersion, false},
		{"kind", f.Kind, false},
		{"metadata", f.Metadata, false},
		{"unavailable", f.Unavailable, len(f.Unavailable) == 0},
		{"absent", f.Absent, len(f.Absent) == 0},
	}
	separator := "{"
	writeField := func(name string, value any) error {
		data, err := json.Marshal(value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := io.WriteString(w, separator+strconv.Quote(name)+":"); err != nil {
			return err
		}
		separator = ","
		_, err = w.Write(data)
		return err
	}
	for _, h := range header {
		if h.omit {
			continue
		}
		if err := writeField(h.name, h.value); err != nil {
			return err
		}
	}
	if f.recorded != nil {
		for _, e := range kindEntries {
			if field := e.data.field(f.recorded); !isEmpty(field) {
				if err := writeField(e.fileField, field); err != nil {
					return err
				}
			}
		}
	}
	_, err := io.WriteString(w, "}")
	return err
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *File) UnmarshalJSON(data []byte) error {
	return f.decode(json.NewDecoder(bytes.NewReader(data)))
}

// decode reads a file's JSON field by field, each kind's data into the field a Snapshot has for
// it; fields it does not know are skipped.
func (f *File) decode(dec *json.Decoder) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	f.recorded = New(SourceCluster)
	fields := make(map[string]any, len(kindEntries)+4)
	fields["apiVersion"], fields["kind"], fields["metadata"], fields["unavailable"] = &f.APIVersion, &f.Kind, &f.Metadata, &f.Unavailable
	fields["absent"] = &f.Absent
	for _, e := range kindEntries {
		fields[e.fileField] = e.data.field(f.recorded)
	}
	for dec.More() {
		token, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := token.(string) // the decoder hands nothing else where a name belongs
		into, known := fields[name]
		if !known {
			var skipped json.RawMessage
			into = &skipped
		}
		if err := dec.Decode(into); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				typeErr.Field = strings.TrimSuffix(name+"."+typeErr.Field, ".")
			}
			return err
		}
	}
	return expectDelim(dec, '}')
}

// expectDelim reads the next token, which must be delim.
func expectDelim(dec *json.Decoder, delim json.Delim) error {
	token, err := dec.Token()
	if err != nil {
		return err
	}
	if token != delim {
		return fmt.Errorf("found %s where %s belongs", describeToken(token), describeToken(delim))
	}
	return nil
}

// describeToken names a JSON token for a message.
func describeToken(token json.Token) string {
	switch token {
	case json.Delim('{'):
		return "a JSON object"
	case json.Delim('}'):
		return "the end of the object"
	case json.Delim('['):
		return "a list"
	case json.Delim(']'):
		return "the end of a list"
	}
	switch token.(type) {
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "true or false"
	}
	return "a number"
}

// ReadFile reads a snapshot written by Write and rebuilds the Snapshot the checks read. Kinds
// the recording did not ask for are marked unavailable, so checks needing them are not
// evaluated instead of judging an absence nobody looked at.
func ReadFile(name string, r io.Reader) (*Snapshot, *FileMetadata, error) {
	return readFile(name, r, MaxFileSize)
}

func readFile(name string, r io.Reader, limit int64) (*Snapshot, *FileMetadata, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a snapshot written by `kubectl alertmend snapshot` (not gzip data: %v)", name, err)
	}
	limited := &limitedReader{r: zr, left: limit}
	var f File
	// Decoding field by field holds one kind's JSON at a time, not the whole file's.
	if err := f.decode(json.NewDecoder(limited)); err != nil {
		if limited.exceeded {
			return nil, nil, fmt.Errorf("%s expands to more than %d MiB; refusing to read it", name, limit>>20)
		}
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, nil, fmt.Errorf("%s is damaged: invalid JSON at byte %d of its content: %v", name, syntax.Offset, err)
		case errors.As(err, &typeErr):
			return nil, nil, fmt.Errorf("%s is damaged: %s", name, DescribeDecodeError(typeErr))
		}
		return nil, nil, fmt.Errorf("%s is damaged or truncated: %v", name, err)
	}
	if f.APIVersion != FileAPIVersion || f.Kind != FileKind {
		return nil, nil, fmt.Errorf("%s holds apiVersion %q, kind %q; want %s %s, as `kubectl alertmend snapshot` writes",
			name, f.APIVersion, f.Kind, FileAPIVersion, FileKind)
	}
	s := f.recorded
	s.Context, s.Server, s.Namespace, s.CollectedAt = f.Metadata.Context, f.Metadata.Server, f.Metadata.Namespace, f.Metadata.CollectedAt
	s.EventsLeftOut = max(f.Metadata.EventsLeftOut, 0)
	for k, why := range f.Unavailable {
		if slices.Contains(f.Absent, k) {
			s.MarkAbsent(k, why)
		} else {
			s.MarkUnavailable(k, why)
		}
	}
	for _, k := range AllKinds() {
		if !slices.Contains(f.Metadata.Kinds, k) {
			s.MarkUnavailable(k, "not recorded in the snapshot "+name)
		}
	}
	s.Finish()
	return s, &f.Metadata, nil
}

// limitedReader fails once more than left bytes were read, remembering that it did.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.exceeded = true
		return 0, errors.New("size limit exceeded")
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
