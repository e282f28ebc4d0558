package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	sigsyaml "sigs.k8s.io/yaml"
)

// StdinName is the path that means standard input, as in kubectl -f -.
const StdinName = "-"

// DefaultMaxBytes bounds the manifests one LoadFiles call reads, summed over every file and
// standard input, with what YAML aliases expand to counted as read. The process peaks at about
// 13 bytes of memory per input byte (measured on Deployments, Services, NetworkPolicies, Roles
// and RoleBindings; 5 of them stay in the snapshot), so 64 MiB takes some 850 MB and 15 seconds:
// three times the 20 MB such an export of a 50,000-pod cluster takes, more than rendered Helm
// charts take, and within a CI runner's memory.
const DefaultMaxBytes = 64 << 20

// stdinLabel names standard input in messages.
const stdinLabel = "<stdin>"

// ErrNothingToCheck is input whose objects are all of kinds no check reads.
var ErrNothingToCheck = errors.New("no object of a kind alertmend checks")

// InputError is malformed input, located at a file and line.
type InputError struct {
	File string
	Line int
	Err  error
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Loader reads manifests into a snapshot, as kubectl apply would read them. Objects of kinds
// the snapshot does not hold are skipped and listed in Skipped, and what people should know
// but that does not stop the run in Warnings, so the caller can say so.
type Loader struct {
	// Namespace is what -n means to kubectl apply -f: the namespace of namespaced objects that
	// name none, and the only one they may name. Empty, objects that name none are in default.
	Namespace string
	Stdin     io.Reader
	// MaxBytes bounds the bytes of manifests one LoadFiles call reads; 0 means DefaultMaxBytes.
	MaxBytes int64

	Skipped  []SkippedObject
	Warnings []Warning

	snap    *Snapshot
	scheme  *runtime.Scheme
	decoder runtime.Decoder
	// definitions says, for each object kept, where in its kind's list it is and where the
	// input defined it, so that a later definition replaces it.
	definitions map[Ref]definition
	// generated counts objects named only by metadata.generateName.
	generated int
	// consumed counts what this run read, and what aliases added, against MaxBytes.
	consumed int64
}

type definition struct {
	index int
	times int
	first Origin
	// warning is the index in Warnings of the one warning about the object; -1 while none.
	warning int
}

// SkippedObject is an object of a kind no check reads.
type SkippedObject struct {
	APIVersion string
	Kind       string
	Origin     Origin
	// Unknown marks a kind Kubernetes itself does not define: a custom resource, or a typo.
	Unknown bool
}

// Warning is something about the input that people should know and that does not stop the run.
type Warning struct {
	// Origin is where the input the warning is about is (for an object defined twice, the last).
	Origin  Origin
	Message string
}

// LoadFiles reads every path (a file, a directory walked recursively for .yaml, .yml and .json
// files, or "-" for stdin) into one snapshot.
func (l *Loader) LoadFiles(paths []string) (*Snapshot, error) {
	l.snap = New(SourceManifests)
	l.snap.Namespace = l.Namespace
	l.scheme = runtime.NewScheme()
	// Every built-in kind is registered, so a misspelled kind is told apart from one no check
	// reads. Registration of the built-in groups cannot fail.
	_ = clientgoscheme.AddToScheme(l.scheme)
	_ = metricsv1beta1.AddToScheme(l.scheme)
	_ = apiregistrationv1.AddToScheme(l.scheme)
	l.decoder = serializer.NewCodecFactory(l.scheme).UniversalDeserializer()
	l.consumed = 0
	l.definitions = map[Ref]definition{}
	l.Skipped, l.Warnings = nil, nil
	objects := 0
	for _, p := range paths {
		n, err := l.loadPath(p)
		if err != nil {
			return nil, err
		}
		objects += n
	}
	if objects == 0 {
		return nil, &InputError{File: strings.Join(paths, ", "), Err: errors.New("no Kubernetes objects found")}
	}
	if len(l.snap.Origins) == 0 {
		// Judging nothing and passing would hide that the input holds nothing to judge.
		return nil, &InputError{File: strings.Join(paths, ", "), Err: fmt.Errorf("%w: %s", ErrNothingToCheck, l.SkippedSummary())}
	}
	l.snap.Finish()
	return l.snap, nil
}

func (l *Loader) loadPath(path string) (int, error) {
	if path == StdinName {
		if l.Stdin == nil {
			return 0, &InputError{File: stdinLabel, Err: errors.New("no standard input")}
		}
		data, err := l.read(stdinLabel, l.Stdin, 0)
		if err != nil {
			return 0, err
		}
		return l.loadBytes(stdinLabel, data)
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, &InputError{File: path, Err: unwrapPathError(err)}
	}
	if !info.IsDir() {
		return l.loadFile(path)
	}
	var files []string
	sizes := map[string]int64{}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &InputError{File: p, Err: unwrapPathError(err)}
		}
		if d.IsDir() || !isManifestFile(p) {
			return nil
		}
		// A pipe or device found in a walk could block or never end: only regular files are
		// read from directories (a pipe named on the command line, -f <(helm template ...), is).
		info, err := os.Stat(p)
		if err != nil {
			return &InputError{File: p, Err: unwrapPathError(err)}
		}
		if !info.Mode().IsRegular() {
			return &InputError{File: p, Err: fmt.Errorf("not a regular file (%s); name it on its own with -f to read it", info.Mode().Type())}
		}
		files = append(files, p)
		sizes[p] = info.Size()
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	// Refuse a directory too large before parsing any of it, naming the file that crosses the limit.
	left := l.maxBytes() - l.consumed
	for _, f := range files {
		if left -= sizes[f]; left < 0 {
			return 0, l.overLimit(f)
		}
	}
	total := 0
	for _, f := range files {
		n, err := l.loadFile(f)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func isManifestFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func (l *Loader) loadFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, &InputError{File: path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, &InputError{File: path, Err: unwrapPathError(err)}
	}
	data, err := l.read(path, f, info.Size())
	if err != nil {
		return 0, err
	}
	return l.loadBytes(path, data)
}

// read reads r whole, unless that would take the run past MaxBytes: then nothing beyond the
// limit is read, and the error says so. size, when known (a regular file's), refuses a file too
// large without reading it, and sizes the buffer.
func (l *Loader) read(name string, r io.Reader, size int64) ([]byte, error) {
	left := l.maxBytes() - l.consumed
	if size > left {
		return nil, l.overLimit(name)
	}
	// Reading one byte past what is left tells a stream that ends at the limit from one that goes on.
	data, err := readAll(io.LimitReader(r, left+1), size)
	if err != nil {
		return nil, &InputError{File: name, Err: unwrapPathError(err)}
	}
	if int64(len(data)) > left {
		return nil, l.overLimit(name)
	}
	l.consumed += int64(len(data))
	return data, nil
}

// readAll is io.ReadAll into a buffer of the expected size, with a spare byte to see the end
// without growing it, as os.ReadFile does.
func readAll(r io.Reader, expected int64) ([]byte, error) {
	data := make([]byte, 0, max(expected+1, 512))
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // a stream, or a file that grew: let append size it
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (l *Loader) maxBytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

func (l *Loader) overLimit(name string) *InputError {
	if l.consumed == 0 {
		return &InputError{File: name, Err: fmt.Errorf("more than %s of manifests; split the input into smaller runs", byteSize(l.maxBytes()))}
	}
	return &InputError{File: name, Err: fmt.Errorf("with the input before it, more than %s of manifests; split the input into smaller runs",
		byteSize(l.maxBytes()))}
}

// byteSize writes n in the largest binary unit that divides it.
func byteSize(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (l *Loader) loadBytes(name string, data []byte) (int, error) {
	total := 0
	var err error
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("{{")) {
		// Neither JSON nor YAML: a template's first action, before any object.
		return 0, templateError(name, data, 1)
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		err = eachJSONValue(name, data, func(value []byte, line int) error {
			n, err := l.loadDocument(name, value, line, false)
			total += n
			return err
		})
	} else {
		err = eachYAMLDocument(data, func(doc []byte, line int) error {
			n, err := l.loadDocument(name, doc, line, true)
			total += n
			return err
		})
	}
	if err != nil {
		return 0, err
	}
	return total, nil
}

// loadDocument converts one YAML document (or JSON value, which cannot hold aliases) that starts
// on line of file name to JSON and adds the objects it holds.
func (l *Loader) loadDocument(name string, doc []byte, line int, mayHoldAliases bool) (int, error) {
	if mayHoldAliases {
		if err := l.chargeAliasExpansion(doc); err != nil {
			return 0, yamlError(name, doc, line, err)
		}
	}
	jsonData, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return 0, yamlError(name, doc, line, err)
	}
	if bytes.Equal(bytes.TrimSpace(jsonData), []byte("null")) {
		return 0, nil // a document of "~" or "null"
	}
	return l.addObject(jsonData, Origin{File: name, Line: line})
}

func yamlError(name string, doc []byte, line int, err error) *InputError {
	var expansion *aliasExpansionError
	if errors.As(err, &expansion) {
		return &InputError{File: name, Line: line, Err: err}
	}
	at, found := yamlErrorLine(err)
	msg := err.Error()
	if !found && (strings.Contains(msg, "UTF-8") || strings.Contains(msg, "control characters") || strings.Contains(msg, "Unicode")) {
		// The parser names no line for bytes it cannot read at all; finding the first such byte does.
		return &InputError{File: name, Line: line + unreadableLine(doc) - 1, Err: cleanYAMLError(err)}
	}
	// A template's action is what failed when the parser names no line, or names the line of an
	// action, the one before it (the node the action sits in) or, looking for the ':' of a key
	// that an action on its own line seemed to start, the one after; a "{{" elsewhere, in a
	// string of a document that fails for another reason, is not.
	keyWithoutColon := strings.Contains(msg, "could not find expected ':'")
	if slices.ContainsFunc(templateLines(doc), func(action int) bool {
		return !found || action == at || action == at+1 || (keyWithoutColon && action == at-1)
	}) {
		return templateError(name, doc, line)
	}
	return &InputError{File: name, Line: line + at - 1, Err: cleanYAMLError(err)}
}

// eachYAMLDocument calls fn with each document of data, cut on "---" lines, and the line of the
// file its content starts on. Documents are slices of data, not copies; those of blank and
// comment lines only are not passed on.
func eachYAMLDocument(data []byte, fn func(doc []byte, line int) error) error {
	start, startLine := -1, 0 // where the current document's content begins; -1 before any
	lineNo := 0
	for offset := 0; offset < len(data); {
		end := len(data)
		if i := bytes.IndexByte(data[offset:], '\n'); i >= 0 {
			end = offset + i + 1
		}
		line := bytes.TrimRight(data[offset:end], "\r\n")
		lineNo++
		switch {
		case isSeparator(line):
			if start >= 0 {
				if err := fn(data[start:offset], startLine); err != nil {
					return err
				}
			}
			start = -1
		case start < 0 && !isBlankOrComment(line):
			// Leading blank and comment lines are left out, so that line 1 of the document, as
			// the YAML parser counts, is its first line of content.
			start, startLine = offset, lineNo
		}
		offset = end
	}
	if start >= 0 {
		return fn(data[start:], startLine)
	}
	return nil
}

func isSeparator(line []byte) bool {
	return bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- ")) || bytes.HasPrefix(line, []byte("---\t"))
}

func isBlankOrComment(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#'
}

// eachJSONValue calls fn with each value of a JSON stream and the line it starts on.
func eachJSONValue(name string, data []byte, fn func(value []byte, line int) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		offset := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			errOffset := dec.InputOffset()
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				errOffset = syntax.Offset
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				errOffset = int64(len(data))
			}
			errLine := lineAt(data, errOffset)
			valueLine := lineAt(data, offset)
			// The decoder stops at the action it cannot read.
			if slices.Contains(templateLines(data[offset:]), errLine-valueLine+1) {
				return templateError(name, data[offset:], valueLine)
			}
			return &InputError{File: name, Line: errLine, Err: fmt.Errorf("invalid JSON: %v", err)}
		}
		// The decoder's offset sits before any whitespace that precedes the value.
		skip := len(data[offset:]) - len(bytes.TrimLeft(data[offset:], " \t\r\n"))
		if err := fn(raw, lineAt(data, offset+int64(skip))); err != nil {
			return err
		}
	}
}

// templateLines lists the lines of data, counted from 1, that hold "{{" outside a comment: a
// Helm (or other Go) template's actions.
func templateLines(data []byte) []int {
	var out []int
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if !isBlankOrComment(line) && bytes.Contains(line, []byte("{{")) {
			out = append(out, lineNo)
		}
	}
	return out
}

// templateError says that data, which starts on line of file name, is a template rather than
// manifests, at its first action.
func templateError(name string, data []byte, line int) *InputError {
	first := 1
	if actions := templateLines(data); len(actions) > 0 {
		first = actions[0]
	}
	return &InputError{File: name, Line: line + first - 1, Err: errors.New("looks like an unrendered template; render it first (helm template ...)")}
}

func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

var yamlLinePattern = regexp.MustCompile(`line (\d+)`)

// yamlErrorLine is the line, counted in the document, that a parser error names.
func yamlErrorLine(err error) (line int, found bool) {
	m := yamlLinePattern.FindStringSubmatch(err.Error())
	if m == nil {
		return 1, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, true
}

// unreadableLine is the line of doc holding the first byte YAML does not allow: invalid UTF-8
// or a control character other than tab and line breaks. It is 1 when there is none, or when
// doc is UTF-16 (which the parser reads, recognized by its byte order mark).
func unreadableLine(doc []byte) int {
	if bytes.HasPrefix(doc, []byte{0xfe, 0xff}) || bytes.HasPrefix(doc, []byte{0xff, 0xfe}) {
		return 1
	}
	line := 1
	for i := 0; i < len(doc); {
		r, size := utf8.DecodeRune(doc[i:])
		if (r == utf8.RuneError && size == 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return 1
}

// cleanYAMLError drops the converter's prefixes and the relative line number, which the
// InputError replaces with the line in the file.
func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = yamlLinePattern.ReplaceAllString(msg, "")
	msg = strings.TrimLeft(msg, ": ")
	return fmt.Errorf("invalid YAML: %s", msg)
}

// olderVersionOf reports whether an object of group may be read as the held kind k: the same
// group, or the retired extensions group that workloads and NetworkPolicy lived in.
func olderVersionOf(group string, k Kind) bool {
	heldGroup := k.Info().Group
	if k == KindIngresses {
		return false // Ingress before networking.k8s.io/v1 had another shape (serviceName, servicePort)
	}
	// extensions/v1beta1 held Deployments and friends, and NetworkPolicy in today's shape.
	return group == heldGroup || (group == "extensions" && (heldGroup == "apps" || k == KindNetworkPolicies))
}

func withAPIVersion(data []byte, apiVersion string) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	obj["apiVersion"] = apiVersion
	return json.Marshal(obj)
}

// typeMeta is just enough of an object to route it.
type typeMeta struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

func (l *Loader) addObject(data []byte, origin Origin) (int, error) {
	var tm typeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("not a Kubernetes object: %s", DescribeDecodeError(err))}
	}
	if tm.Kind == "" {
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: errors.New("object has no kind")}
	}
	if tm.APIVersion == "" {
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s has no apiVersion", tm.Kind)}
	}
	if strings.HasSuffix(tm.Kind, "List") && tm.Items != nil {
		total := 0
		for i, item := range tm.Items {
			n, err := l.addObject(item, origin)
			var inputErr *InputError
			if errors.As(err, &inputErr) {
				// Items share the List's position; the index says which one is wrong.
				inputErr.Err = fmt.Errorf("items[%d]: %w", i, inputErr.Err)
			}
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	skip := SkippedObject{APIVersion: tm.APIVersion, Kind: tm.Kind, Origin: origin}
	if tm.Kind == "Secret" {
		// Secrets are never read, not even from files.
		l.Skipped = append(l.Skipped, skip)
		return 1, nil
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s: %v", tm.Kind, err)}
	}
	if !l.scheme.Recognizes(gv.WithKind(tm.Kind)) {
		skip.Unknown = true
		l.Skipped = append(l.Skipped, skip)
		return 1, nil
	}
	kind, held := KindOf(tm.Kind)
	if !held {
		l.Skipped = append(l.Skipped, skip) // a built-in kind that no check reads
		return 1, nil
	}
	if want := kind.Info().GroupVersion; tm.APIVersion != want && olderVersionOf(gv.Group, kind) {
		// An older version of a kind (batch/v1beta1 CronJob, extensions/v1beta1 Deployment):
		// its fields are read as the current version's, the shape checks understand.
		if data, err = withAPIVersion(data, want); err != nil {
			return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s: %v", tm.Kind, err)}
		}
	}
	obj, _, err := l.decoder.Decode(data, nil, nil)
	if err != nil {
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s: %s", tm.Kind, l.describeDecodeError(data, kind, err))}
	}
	return 1, l.add(kind, obj, origin)
}

// describeDecodeError words the decoder's err about data, an object of kind k. Kubernetes'
// decoder does not export its error types, so where data fails the same way in encoding/json,
// that error, which carries the Go type, says what belongs in the field.
func (l *Loader) describeDecodeError(data []byte, k Kind, err error) string {
	gv, _ := schema.ParseGroupVersion(k.Info().GroupVersion)
	if typed, newErr := l.scheme.New(gv.WithKind(k.Info().ObjectKind)); newErr == nil {
		var typeErr *json.UnmarshalTypeError
		if stdErr := json.Unmarshal(data, typed); errors.As(stdErr, &typeErr) {
			return DescribeDecodeError(typeErr)
		}
	}
	return DescribeDecodeError(err)
}

// add keeps a decoded object in the list of its kind.
func (l *Loader) add(kind Kind, obj runtime.Object, origin Origin) error {
	objects, ok := byKind[kind].data.(objectData)
	if !ok {
		return nil
	}
	return objects.add(l, kind, obj, origin)
}

// keep appends obj to its list, as kubectl apply -f would create it: a namespaced object without
// a namespace lands in the Loader's (default without one), one naming another namespace than
// the Loader's is an error, and an object defined again replaces the earlier definition.
func keep[T any, PT interface {
	*T
	metav1.Object
}](l *Loader, list *[]T, k Kind, obj PT, origin Origin) error {
	if obj.GetName() == "" && obj.GetGenerateName() != "" {
		// The API server would invent the rest of the name; number them so each stays distinct.
		l.generated++
		obj.SetName(fmt.Sprintf("%s<generated-%d>", obj.GetGenerateName(), l.generated))
	}
	if obj.GetName() == "" {
		return &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s has no metadata.name", k.Info().ObjectKind)}
	}
	if k.Info().Namespaced {
		switch namespace := obj.GetNamespace(); {
		case namespace == "" && l.Namespace != "":
			obj.SetNamespace(l.Namespace)
		case namespace == "":
			obj.SetNamespace(metav1.NamespaceDefault)
		case l.Namespace != "" && namespace != l.Namespace:
			// kubectl apply's own words (k8s.io/cli-runtime's RequireNamespace).
			return &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("the namespace from the provided object %q does not match "+
				"the namespace %q. You must pass '--namespace=%s' to perform this operation.", namespace, l.Namespace, namespace)}
		}
	}
	ref := RefTo(k, obj.GetNamespace(), obj.GetName())
	if d, seen := l.definitions[ref]; seen {
		// kubectl apply applies both, and the last one stays. One warning per object, however
		// often it is defined, keeps what hostile input can make of them bounded.
		d.times++
		w := Warning{Origin: origin, Message: redefinition(ref, d.times, d.first, origin)}
		if d.warning < 0 {
			d.warning = len(l.Warnings)
			l.Warnings = append(l.Warnings, w)
		} else {
			l.Warnings[d.warning] = w
		}
		l.definitions[ref] = d
		(*list)[d.index] = *obj
		l.snap.Origins[ref] = origin
		return nil
	}
	l.definitions[ref] = definition{index: len(*list), times: 1, first: origin, warning: -1}
	l.snap.Origins[ref] = origin
	*list = append(*list, *obj)
	return nil
}

func redefinition(ref Ref, times int, first, last Origin) string {
	if times == 2 {
		return fmt.Sprintf("%s is defined twice, at %s and %s; the last one is judged", ref, first, last)
	}
	return fmt.Sprintf("%s is defined %d times, first at %s and last at %s; the last one is judged", ref, times, first, last)
}

// SkippedSummary says which objects were skipped, by kind, and where the first was; empty
// when none was.
func (l *Loader) SkippedSummary() string {
	if len(l.Skipped) == 0 {
		return ""
	}
	unchecked, unknown := map[string]bool{}, map[string]bool{}
	for _, o := range l.Skipped {
		if o.Unknown {
			unknown[o.APIVersion+" "+o.Kind] = true
		} else {
			unchecked[o.APIVersion+" "+o.Kind] = true
		}
	}
	objects := "objects"
	if len(l.Skipped) == 1 {
		objects = "object"
	}
	var lists []string
	if len(unchecked) > 0 {
		lists = append(lists, "not checked by alertmend: "+strings.Join(slices.Sorted(maps.Keys(unchecked)), ", "))
	}
	if len(unknown) > 0 {
		lists = append(lists, "unknown to Kubernetes (custom resources, or misspelt): "+strings.Join(slices.Sorted(maps.Keys(unknown)), ", "))
	}
	return fmt.Sprintf("skipped %d %s, the first at %s; %s", len(l.Skipped), objects, l.Skipped[0].Origin, strings.Join(lists, "; "))
}
