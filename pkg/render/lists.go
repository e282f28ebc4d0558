package render

import "reflect"

// EmptyLists replaces every nil slice that v reaches through pointers, structs and slices with
// an empty one, so that machine formats write a list with nothing in it as [] and never as null
// (`jq '.findings[]'` fails on null, and a clean run is the most common CI result). It works on
// the document about to be written, in place: renderers are the last step of a run. Slices
// behind maps and interfaces are not reached; no document keeps lists there.
func EmptyLists(v any) {
	fillLists(reflect.ValueOf(v))
}

func fillLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fillLists(v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if t.Field(i).IsExported() {
				fillLists(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.CanSet() {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := range v.Len() {
			fillLists(v.Index(i))
		}
	}
}
