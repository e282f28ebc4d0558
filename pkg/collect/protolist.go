package collect

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
)

// listWithoutManagedFields is the typed clientset's List for a resource of client's group, but
// a protobuf answer loses its items' managedFields before it is decoded rather than after: no
// check reads them, and on a large cluster decoding them was a large share of the time and
// garbage of a run (issue #10). Any other answer (JSON, or one the shortcut cannot read) is
// decoded by client-go's deserializer; refusals are client-go's own errors, with the server's
// Status.
//
// Two more savings, for lists read page by page (pages calls it one page at a time):
//   - The next page is asked for as soon as this one has arrived, its continue token read from
//     the answer undecoded, so the server works on it while this one is decoded. A request for
//     anything but that page (a retry, a list started over) waits for it and asks afresh.
//   - Answers are read into two buffers kept from page to page: client-go's Do reads each with
//     io.ReadAll, growing and zeroing a fresh buffer from 512 bytes to the page's megabytes,
//     which was a sixth of a 10,000-pod run's CPU time.
func listWithoutManagedFields[L any, PL interface {
	*L
	runtime.Object
	Unmarshal([]byte) error
}](client rest.Interface, namespace, resource string) func(context.Context, metav1.ListOptions) (PL, error) {
	var bodies [2]bytes.Buffer
	var stripped []byte // scratch space of the decoder; the generated decoders copy what they keep
	type answer struct {
		body *bytes.Buffer
		err  error
	}
	fetch := func(ctx context.Context, opts metav1.ListOptions, into *bytes.Buffer) answer {
		stream, err := client.Get().
			UseProtobufAsDefault().
			NamespaceIfScoped(namespace, namespace != "").
			Resource(resource).
			VersionedParams(&opts, scheme.ParameterCodec).
			Stream(ctx)
		if err != nil {
			return answer{err: err}
		}
		defer stream.Close()
		into.Reset()
		if _, err := into.ReadFrom(stream); err != nil {
			return answer{err: err}
		}
		return answer{body: into}
	}
	var ahead struct {
		opts metav1.ListOptions
		into int
		done chan answer // nil when no page is being read ahead
	}
	return func(ctx context.Context, opts metav1.ListOptions) (PL, error) {
		var got answer
		current := 0
		switch {
		case ahead.done != nil && reflect.DeepEqual(ahead.opts, opts):
			got, current = <-ahead.done, ahead.into
		case ahead.done != nil:
			<-ahead.done // not the page wanted: let it finish with its buffer first
			fallthrough
		default:
			got = fetch(ctx, opts, &bodies[current])
		}
		ahead.done = nil
		if got.err != nil {
			return nil, got.err
		}
		if token := continueToken(got.body.Bytes()); token != "" && ctx.Err() == nil {
			next := opts
			next.Continue = token
			done := make(chan answer, 1)
			ahead.opts, ahead.into, ahead.done = next, 1-current, done
			go func() { done <- fetch(ctx, next, &bodies[1-current]) }()
		}
		list := PL(new(L))
		var ok bool
		if ok, stripped = unmarshalWithoutManagedFields(got.body.Bytes(), list, stripped); ok {
			return list, nil
		}
		list = PL(new(L))
		return list, runtime.DecodeInto(scheme.Codecs.UniversalDeserializer(), got.body.Bytes(), list)
	}
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
	raw, ok := protobufList(body)
	if !ok {
		return false, buf
	}
	buf, err := appendWithoutManagedFields(buf[:0], raw)
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
