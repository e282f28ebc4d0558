package collect

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// The API server's protobuf answer is a magic prefix, then a runtime.Unknown whose raw field
// holds the list. Field numbers are those of the generated.proto files of k8s.io/apimachinery
// (runtime.Unknown, runtime.TypeMeta, meta/v1 ObjectMeta) and k8s.io/api (every <Kind>List has
// items = 2, every object metadata = 1).
const (
	protobufMagic = "k8s\x00"

	unknownTypeMeta        = 1 // runtime.Unknown.typeMeta
	unknownRaw             = 2 // runtime.Unknown.raw
	unknownContentEncoding = 3 // runtime.Unknown.contentEncoding
	typeMetaKind           = 2 // runtime.TypeMeta.kind

	listMetadata      = 1  // <Kind>List.metadata
	listMetaContinue  = 3  // ListMeta.continue
	listItems         = 2  // <Kind>List.items
	objectMetadata    = 1  // <Kind>.metadata
	metaManagedFields = 17 // ObjectMeta.managedFields
	managedFieldsV1   = 7  // ManagedFieldsEntry.fieldsV1
)

// listWithoutManagedFields is the typed clientset's List for a resource of client's group, but
// a protobuf answer loses its items' managedFields before it is decoded rather than after: no
// check reads them, and on a large cluster decoding them was a large share of the time and
// garbage of a run (issue #10). Any other answer (JSON, or one the shortcut cannot read) is
// decoded by client-go's deserializer; refusals are client-go's own errors, with the server's
// Status.
//
// The collector makes its listers from the kind table with newPageLister; this is the typed
// form of the same. Two more savings, for lists read page by page (pages calls it one page at
// a time):
//   - The next page is asked for as soon as this one has arrived, its continue token read from
//     the answer undecoded, so the server works on it while this one is decoded. A request for
//     anything but that page (a retry, a list started over) cancels it and asks afresh.
//   - Answers are read into two buffers kept from page to page: client-go's Do reads each with
//     io.ReadAll, growing and zeroing a fresh buffer from 512 bytes to the page's megabytes,
//     which was a sixth of a 10,000-pod run's CPU time.
func listWithoutManagedFields[L any, PL interface {
	*L
	runtime.Object
	Unmarshal([]byte) error
}](client rest.Interface, namespace, resource string) func(context.Context, metav1.ListOptions) (PL, error) {
	l := newPageLister(client, namespace, resource, func() runtime.Object { return PL(new(L)) })
	return func(ctx context.Context, opts metav1.ListOptions) (PL, error) {
		list, err := l.list(ctx, opts)
		if err != nil {
			return nil, err
		}
		return list.(PL), nil
	}
}

// newPageLister lists resource as listWithoutManagedFields does, decoding each page into what
// newList returns: an empty list of the resource's kind (a *corev1.PodList).
func newPageLister(client rest.Interface, namespace, resource string, newList func() runtime.Object) *pageLister {
	return &pageLister{client: client, namespace: namespace, resource: resource, newList: newList,
		decoder: scheme.Codecs.UniversalDeserializer(), params: scheme.ParameterCodec}
}

// decodingWith replaces the Kubernetes clientset's scheme with the one of another clientset
// (the aggregator's), whose group the former does not know.
func (l *pageLister) decodingWith(c typedClient) *pageLister {
	if c.decoder != nil {
		l.decoder, l.params = c.decoder, c.params
	}
	return l
}

// pageLister is the state listWithoutManagedFields keeps between pages.
type pageLister struct {
	client              rest.Interface
	namespace, resource string
	newList             func() runtime.Object
	// decoder reads an answer that is not a protobuf list (JSON, a Status); params encodes
	// the list options: both know the resource's group.
	decoder runtime.Decoder
	params  runtime.ParameterCodec

	// changeTimes keeps the items' managedFields but for their field sets (fieldsV1), for a
	// kind whose KindInfo.ChangeTimes is set; Append slims them further.
	changeTimes bool
	// accept, when set, is the Accept header asked with instead of protobuf's: another form
	// of the list (its metadata alone).
	accept string

	bodies   [2]bytes.Buffer
	stripped []byte // the decoder's scratch space; the generated decoders copy what they keep
	ahead    *readAhead
}

// keepingChangeTimes makes the lister keep what the slim managedFields need (see changeTimes).
func (l *pageLister) keepingChangeTimes(keep bool) *pageLister {
	l.changeTimes = keep
	return l
}

// accepting asks for the answer in another form than the resource's own protobuf list.
func (l *pageLister) accepting(accept string) *pageLister {
	l.accept = accept
	return l
}

// readAhead is a page asked for before the caller wanted it, being read into bodies[into].
type readAhead struct {
	opts   metav1.ListOptions
	into   int
	cancel context.CancelFunc
	done   chan fetched
}

type fetched struct {
	body *bytes.Buffer
	err  error
}

// Connection failures are asked again as client-go's Do asks them (Stream does not): up to ten
// times, a second apart.
const (
	connectionRetries    = 10
	connectionRetryPause = time.Second
)

func (l *pageLister) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	var got fetched
	current := 0
	if a := l.ahead; a != nil && reflect.DeepEqual(a.opts, opts) {
		got, current = <-a.done, a.into
		a.cancel()
		l.ahead = nil
	} else {
		l.dropReadAhead()
		got = l.fetch(ctx, opts, &l.bodies[current])
	}
	if got.err != nil {
		return nil, got.err
	}
	body := got.body.Bytes()
	if token := continueToken(body); token != "" && ctx.Err() == nil {
		next := opts
		next.Continue = token
		aheadCtx, cancel := context.WithCancel(ctx)
		a := &readAhead{opts: next, into: 1 - current, cancel: cancel, done: make(chan fetched, 1)}
		go func() { a.done <- l.fetch(aheadCtx, next, &l.bodies[a.into]) }()
		l.ahead = a
	}
	list := l.newList()
	if generated, ok := list.(interface{ Unmarshal([]byte) error }); ok {
		var decoded bool
		strip := unmarshalWithoutManagedFields
		if l.changeTimes {
			strip = unmarshalWithoutFieldSets
		}
		if decoded, l.stripped = strip(body, generated, l.stripped); decoded {
			return list, nil
		}
		list = l.newList()
	}
	obj, _, err := l.decoder.Decode(body, nil, list)
	if err == nil && obj != list {
		if status, isStatus := obj.(*metav1.Status); isStatus {
			err = apierrors.FromObject(status) // a Status in a 2xx answer, as rest.Result.Into reads one
		} else {
			err = fmt.Errorf("the server answered a list of %s with %T", l.resource, obj)
		}
	}
	if err != nil {
		// The caller will not want the page after one it could not read as it was.
		l.dropReadAhead()
		return nil, err
	}
	return list, nil
}

// dropReadAhead cancels the page read ahead, if any, and waits until its buffer is free.
func (l *pageLister) dropReadAhead() {
	if a := l.ahead; a != nil {
		a.cancel()
		<-a.done
		l.ahead = nil
	}
}

// fetch reads one answer into the buffer given.
func (l *pageLister) fetch(ctx context.Context, opts metav1.ListOptions, into *bytes.Buffer) fetched {
	for attempt := 0; ; attempt++ {
		req := l.client.Get()
		if l.accept != "" {
			req = req.SetHeader("Accept", l.accept)
		} else {
			req = req.UseProtobufAsDefault()
		}
		stream, err := req.
			NamespaceIfScoped(l.namespace, l.namespace != "").
			Resource(l.resource).
			VersionedParams(&opts, l.params).
			Stream(ctx)
		if err != nil && attempt < connectionRetries && connectionFailed(err) && ctx.Err() == nil {
			select {
			case <-time.After(connectionRetryPause):
				continue
			case <-ctx.Done():
			}
		}
		if err != nil {
			return fetched{err: err}
		}
		into.Reset()
		_, err = into.ReadFrom(stream)
		stream.Close()
		if err != nil {
			return fetched{err: err}
		}
		return fetched{body: into}
	}
}

// connectionFailed tells the errors of a request that got no answer, which client-go's Do
// asks again for a GET.
func connectionFailed(err error) bool {
	return utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err)
}

// continueToken is the continue token of a protobuf LIST answer, read without decoding it; ""
// for the last page, or an answer it cannot read (which is then decoded as usual).
func continueToken(body []byte) string {
	list, ok := protobufList(body)
	if !ok {
		return ""
	}
	for len(list) > 0 {
		f, rest, err := nextField(list)
		if err != nil {
			return ""
		}
		list = rest
		if f.num != listMetadata || f.typ != protowire.BytesType {
			continue
		}
		for meta := f.contents; len(meta) > 0; {
			mf, rest, err := nextField(meta)
			if err != nil {
				return ""
			}
			meta = rest
			if mf.num == listMetaContinue && mf.typ == protowire.BytesType {
				return string(mf.contents)
			}
		}
	}
	return ""
}

// unmarshalWithoutManagedFields decodes a protobuf LIST answer into list without its items'
// managedFields. It tells whether it did: not for JSON, a Status, or an answer it cannot
// read. buf is scratch space, handed back for the next page; list copies what it keeps.
func unmarshalWithoutManagedFields(body []byte, list interface{ Unmarshal([]byte) error }, buf []byte) (bool, []byte) {
	return unmarshalWithout(body, list, buf, []protowire.Number{listItems, objectMetadata, metaManagedFields})
}

// unmarshalWithoutFieldSets is unmarshalWithoutManagedFields keeping the managedFields entries
// but for their field sets: who changed an object and when, without what, which is their bulk.
func unmarshalWithoutFieldSets(body []byte, list interface{ Unmarshal([]byte) error }, buf []byte) (bool, []byte) {
	return unmarshalWithout(body, list, buf, []protowire.Number{listItems, objectMetadata, metaManagedFields, managedFieldsV1})
}

// unmarshalWithout decodes a protobuf LIST answer into list without the fields at path (see
// appendWithout).
func unmarshalWithout(body []byte, list interface{ Unmarshal([]byte) error }, buf []byte, path []protowire.Number) (bool, []byte) {
	raw, ok := protobufList(body)
	if !ok {
		return false, buf
	}
	buf, err := appendWithout(buf[:0], raw, path)
	if err != nil {
		return false, buf
	}
	presizeItems(list, countItems(buf))
	return list.Unmarshal(buf) == nil, buf
}

// countItems is how many items a list message holds (one field each).
func countItems(list []byte) int {
	n := 0
	for len(list) > 0 {
		f, rest, err := nextField(list)
		if err != nil {
			break
		}
		if f.num == listItems && f.typ == protowire.BytesType {
			n++
		}
		list = rest
	}
	return n
}

// presizeItems gives a list's Items room for n objects before it is decoded. The generated
// decoder appends each item, and growing a slice of five hundred pods one doubling at a time
// copied each pod about twice.
func presizeItems(list any, n int) {
	if n == 0 {
		return
	}
	items := reflect.ValueOf(list).Elem().FieldByName("Items")
	if items.IsValid() && items.Kind() == reflect.Slice && items.CanSet() && items.Len() == 0 {
		items.Set(reflect.MakeSlice(items.Type(), 0, n))
	}
}

// field is one field of a protobuf message: its number and wire type, its encoding whole (tag
// included), and for a length-delimited field its contents.
type field struct {
	num      protowire.Number
	typ      protowire.Type
	whole    []byte
	contents []byte
}

// nextField splits the first field off msg.
func nextField(msg []byte) (field, []byte, error) {
	num, typ, n := protowire.ConsumeTag(msg)
	if n < 0 {
		return field{}, nil, protobufError(n)
	}
	m := protowire.ConsumeFieldValue(num, typ, msg[n:])
	if m < 0 {
		return field{}, nil, protobufError(m)
	}
	f := field{num: num, typ: typ, whole: msg[:n+m]}
	if typ == protowire.BytesType {
		f.contents, _ = protowire.ConsumeBytes(msg[n : n+m])
	}
	return f, msg[n+m:], nil
}

// protobufList returns the list message in an API server's protobuf answer; ok is false for
// anything else (JSON, a Status, an encoded payload, an answer cut short).
func protobufList(body []byte) (list []byte, ok bool) {
	msg, found := bytes.CutPrefix(body, []byte(protobufMagic))
	if !found {
		return nil, false
	}
	var kind string
	for len(msg) > 0 {
		f, rest, err := nextField(msg)
		if err != nil {
			return nil, false
		}
		msg = rest
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case unknownTypeMeta:
			for typeMeta := f.contents; len(typeMeta) > 0; {
				tf, rest, err := nextField(typeMeta)
				if err != nil {
					return nil, false
				}
				typeMeta = rest
				if tf.num == typeMetaKind && tf.typ == protowire.BytesType {
					kind = string(tf.contents)
				}
			}
		case unknownRaw:
			list = f.contents
		case unknownContentEncoding:
			if len(f.contents) > 0 {
				return nil, false
			}
		}
	}
	return list, strings.HasSuffix(kind, "List")
}

// appendWithoutManagedFields appends a list message to dst without its items' managedFields,
// which no check reads and which are often the larger part of an object.
func appendWithoutManagedFields(dst, list []byte) ([]byte, error) {
	return appendWithout(dst, list, []protowire.Number{listItems, objectMetadata, metaManagedFields})
}

// appendWithout appends msg to dst without the fields at path (each step a message field,
// repeated or not), rewriting the lengths of the messages on the way. Everything else, fields
// unknown to this client included, is copied as it is.
func appendWithout(dst, msg []byte, path []protowire.Number) ([]byte, error) {
	for len(msg) > 0 {
		f, rest, err := nextField(msg)
		if err != nil {
			return dst, err
		}
		msg = rest
		switch {
		case f.num != path[0] || f.typ != protowire.BytesType:
			dst = append(dst, f.whole...)
		case len(path) > 1:
			size, err := sizeWithout(f.contents, path[1:])
			if err != nil {
				return dst, err
			}
			dst = protowire.AppendTag(dst, f.num, f.typ)
			dst = protowire.AppendVarint(dst, uint64(size))
			if dst, err = appendWithout(dst, f.contents, path[1:]); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// sizeWithout is the length of what appendWithout appends for msg.
func sizeWithout(msg []byte, path []protowire.Number) (int, error) {
	size := 0
	for len(msg) > 0 {
		f, rest, err := nextField(msg)
		if err != nil {
			return 0, err
		}
		msg = rest
		switch {
		case f.num != path[0] || f.typ != protowire.BytesType:
			size += len(f.whole)
		case len(path) > 1:
			inner, err := sizeWithout(f.contents, path[1:])
			if err != nil {
				return 0, err
			}
			size += protowire.SizeTag(f.num) + protowire.SizeBytes(inner)
		}
	}
	return size, nil
}

// protobufError keeps protowire's error: io.ErrUnexpectedEOF for a body cut short.
func protobufError(n int) error {
	return fmt.Errorf("decoding a protobuf list: %w", protowire.ParseError(n))
}
