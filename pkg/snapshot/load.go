package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	sigsyaml "sigs.k8s.io/yaml"
)

// StdinName is the path that means standard input, as in kubectl -f -.
const StdinName = "-"

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

// Loader reads manifests into a snapshot. Objects of kinds the snapshot does not hold are
// skipped; those unknown to Kubernetes itself are reported in Skipped so the caller can say so.
type Loader struct {
	// Namespace, when set, keeps only namespaced objects of that namespace.
	Namespace string
	Stdin     io.Reader

	snap    *Snapshot
	scheme  *runtime.Scheme
	decoder runtime.Decoder
	Skipped []SkippedObject
	// generated counts objects named only by metadata.generateName.
	generated int
}

// SkippedObject is an object of a kind this tool does not know.
type SkippedObject struct {
	APIVersion string
	Kind       string
	Origin     Origin
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
	l.decoder = serializer.NewCodecFactory(l.scheme).UniversalDeserializer()
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
	l.snap.Finish()
	return l.snap, nil
}

func (l *Loader) loadPath(path string) (int, error) {
	if path == StdinName {
		if l.Stdin == nil {
			return 0, &InputError{File: "<stdin>", Err: errors.New("no standard input")}
		}
		data, err := io.ReadAll(l.Stdin)
		if err != nil {
			return 0, &InputError{File: "<stdin>", Err: err}
		}
		return l.loadBytes("<stdin>", data)
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, &InputError{File: path, Err: unwrapPathError(err)}
	}
	if !info.IsDir() {
		return l.loadFile(path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &InputError{File: p, Err: unwrapPathError(err)}
		}
		if !d.IsDir() && isManifestFile(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
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
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, &InputError{File: path, Err: unwrapPathError(err)}
	}
	return l.loadBytes(path, data)
}

// document is one YAML document or JSON value and the line it starts on.
type document struct {
	data []byte
	line int
}

func (l *Loader) loadBytes(name string, data []byte) (int, error) {
	docs, err := splitDocuments(name, data)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, doc := range docs {
		jsonData, err := sigsyaml.YAMLToJSON(doc.data)
		if err != nil {
			return 0, &InputError{File: name, Line: doc.line + yamlErrorLine(err) - 1, Err: cleanYAMLError(err)}
		}
		if bytes.Equal(bytes.TrimSpace(jsonData), []byte("null")) {
			continue // an empty document, or one of comments only
		}
		n, err := l.addObject(jsonData, Origin{File: name, Line: doc.line})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// splitDocuments cuts a file into YAML documents on "---" lines, remembering where each starts,
// or, for JSON, into the values of a JSON stream.
func splitDocuments(name string, data []byte) ([]document, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return splitJSON(name, data)
	}
	var docs []document
	var current bytes.Buffer
	start := 1
	lineNo := 0
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		lineNo++
		line := scanner.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			docs = append(docs, document{data: append([]byte(nil), current.Bytes()...), line: start})
			current.Reset()
			start = lineNo + 1
			continue
		}
		if current.Len() == 0 && isBlankOrComment(line) {
			// Leading blank and comment lines are left out, so that line 1 of the document, as
			// the YAML parser counts, is its first line of content.
			start = lineNo + 1
			continue
		}
		current.WriteString(line)
		current.WriteByte('\n')
	}
	if err := scanner.Err(); err != nil {
		return nil, &InputError{File: name, Line: lineNo + 1, Err: err}
	}
	docs = append(docs, document{data: current.Bytes(), line: start})
	return docs, nil
}

func isBlankOrComment(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "#")
}

func splitJSON(name string, data []byte) ([]document, error) {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		offset := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, nil
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
			return nil, &InputError{File: name, Line: lineAt(data, errOffset), Err: fmt.Errorf("invalid JSON: %v", err)}
		}
		// The decoder's offset sits before any whitespace that precedes the value.
		skip := len(data[offset:]) - len(bytes.TrimLeft(data[offset:], " \t\r\n"))
		docs = append(docs, document{data: raw, line: lineAt(data, offset+int64(skip))})
	}
}

func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

var yamlLinePattern = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := yamlLinePattern.FindStringSubmatch(err.Error())
	if m == nil {
		return 1
	}
	n, _ := strconv.Atoi(m[1])
	return n
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
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("not a Kubernetes object: %v", err)}
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
	if tm.Kind == "Secret" {
		// Secrets are never read, not even from files.
		return 1, nil
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s: %v", tm.Kind, err)}
	}
	if !l.scheme.Recognizes(gv.WithKind(tm.Kind)) {
		l.Skipped = append(l.Skipped, SkippedObject{APIVersion: tm.APIVersion, Kind: tm.Kind, Origin: origin})
		return 1, nil
	}
	kind, held := KindOf(tm.Kind)
	if !held {
		return 1, nil // a built-in kind that no check reads
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
		return 0, &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s: %v", tm.Kind, err)}
	}
	return 1, l.add(obj, origin)
}

func (l *Loader) add(obj runtime.Object, origin Origin) error {
	s := l.snap
	switch o := obj.(type) {
	case *corev1.Namespace:
		return keep(l, &s.Namespaces, KindNamespaces, o, origin)
	case *corev1.Node:
		return keep(l, &s.Nodes, KindNodes, o, origin)
	case *corev1.Pod:
		return keep(l, &s.Pods, KindPods, o, origin)
	case *appsv1.Deployment:
		return keep(l, &s.Deployments, KindDeployments, o, origin)
	case *appsv1.ReplicaSet:
		return keep(l, &s.ReplicaSets, KindReplicaSets, o, origin)
	case *appsv1.StatefulSet:
		return keep(l, &s.StatefulSets, KindStatefulSets, o, origin)
	case *appsv1.DaemonSet:
		return keep(l, &s.DaemonSets, KindDaemonSets, o, origin)
	case *batchv1.Job:
		return keep(l, &s.Jobs, KindJobs, o, origin)
	case *batchv1.CronJob:
		return keep(l, &s.CronJobs, KindCronJobs, o, origin)
	case *corev1.LimitRange:
		return keep(l, &s.LimitRanges, KindLimitRanges, o, origin)
	case *corev1.ResourceQuota:
		return keep(l, &s.ResourceQuotas, KindResourceQuotas, o, origin)
	case *metricsv1beta1.PodMetrics:
		return keep(l, &s.PodMetrics, KindPodMetrics, o, origin)
	case *corev1.Service:
		return keep(l, &s.Services, KindServices, o, origin)
	case *discoveryv1.EndpointSlice:
		return keep(l, &s.EndpointSlices, KindEndpointSlices, o, origin)
	case *policyv1.PodDisruptionBudget:
		return keep(l, &s.PodDisruptionBudgets, KindPodDisruptionBudgets, o, origin)
	case *corev1.ConfigMap:
		return keep(l, &s.ConfigMaps, KindConfigMaps, o, origin)
	case *networkingv1.NetworkPolicy:
		return keep(l, &s.NetworkPolicies, KindNetworkPolicies, o, origin)
	case *networkingv1.Ingress:
		return keep(l, &s.Ingresses, KindIngresses, o, origin)
	case *corev1.Event:
		return keep(l, &s.Events, KindEvents, o, origin)
	case *corev1.ServiceAccount:
		return keep(l, &s.ServiceAccounts, KindServiceAccounts, o, origin)
	case *rbacv1.ClusterRoleBinding:
		return keep(l, &s.ClusterRoleBindings, KindClusterRoleBindings, o, origin)
	case *rbacv1.RoleBinding:
		return keep(l, &s.RoleBindings, KindRoleBindings, o, origin)
	case *rbacv1.ClusterRole:
		return keep(l, &s.ClusterRoles, KindClusterRoles, o, origin)
	case *rbacv1.Role:
		return keep(l, &s.Roles, KindRoles, o, origin)
	}
	return nil
}

// keep appends obj to its list unless the namespace filter excludes it. A namespaced object
// without a namespace lands in default, as kubectl apply would put it.
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
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default")
		}
		if l.Namespace != "" && obj.GetNamespace() != l.Namespace {
			return nil
		}
	}
	ref := RefTo(k, obj.GetNamespace(), obj.GetName())
	if first, seen := l.snap.Origins[ref]; seen {
		return &InputError{File: origin.File, Line: origin.Line, Err: fmt.Errorf("%s is defined twice; first at %s", ref, first)}
	}
	l.snap.Origins[ref] = origin
	*list = append(*list, *obj)
	return nil
}
