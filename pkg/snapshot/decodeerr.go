package snapshot

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// DescribeDecodeError says, in the terms of the input, what decoding it found wrong: the field,
// what it holds and what belongs there, without the Go type names and "json:" of the decoders'
// own messages. Errors it does not know keep their text, less the "json: " prefix.
func DescribeDecodeError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return mismatch(typeErr.Field, typeErr.Value, typeWord(typeErr.Type))
	}
	msg := err.Error()
	if m := typeErrorText.FindStringSubmatch(msg); m != nil {
		// The text of a decoder whose error type is not exported (Kubernetes' own): "Struct.field.path".
		_, field, _ := strings.Cut(m[2], ".")
		return mismatch(field, m[1], typeNameWord(m[3]))
	}
	if m := unknownFieldText.FindStringSubmatch(msg); m != nil {
		return "unknown field " + m[1]
	}
	if m := timeText.FindStringSubmatch(msg); m != nil {
		return "invalid time " + m[1] + ": want one such as 2026-01-31T09:30:00Z"
	}
	for _, quantityErr := range []error{resource.ErrFormatWrong, resource.ErrNumeric, resource.ErrSuffix} {
		if strings.Contains(msg, quantityErr.Error()) {
			return "invalid quantity: want a number with an optional unit, such as 500m, 2 or 512Mi"
		}
	}
	if i := strings.LastIndex(msg, "json: "); i >= 0 {
		return msg[i+len("json: "):]
	}
	return msg
}

var (
	typeErrorText    = regexp.MustCompile(`json: cannot unmarshal (.+?) into Go (?:struct field (\S+)|value) of type (\S+)`)
	unknownFieldText = regexp.MustCompile(`json: unknown field ("[^"]*")`)
	timeText         = regexp.MustCompile(`parsing time ("(?:[^"\\]|\\.)*") as "2006-01-02T15:04:05Z07:00"`)
)

// mismatch is "FIELD: got WHAT, want WORD". The field's path leaves out the Go names of
// embedded structs, which the input never spells (all its fields begin in lower case).
func mismatch(field, value, want string) string {
	var path []string
	for _, part := range strings.Split(field, ".") {
		if part != "" && !(part[0] >= 'A' && part[0] <= 'Z') {
			path = append(path, part)
		}
	}
	got := valueWord(value)
	var msg string
	if want == "" {
		msg = "got " + got + ", which does not belong there"
	} else {
		msg = "got " + got + ", want " + want
	}
	if len(path) == 0 {
		return "the whole document: " + msg
	}
	return strings.Join(path, ".") + ": " + msg
}

// valueWord names a JSON value as the decoders describe it ("string", "number 1.5", "array").
func valueWord(value string) string {
	switch {
	case value == "string":
		return "a string"
	case value == "number":
		return "a number"
	case strings.HasPrefix(value, "number "):
		return "the number " + strings.TrimPrefix(value, "number ")
	case value == "bool":
		return "true or false"
	case value == "array":
		return "a list"
	case value == "object":
		return "a mapping"
	}
	return value
}

// typeWord names what a Go type takes in YAML and JSON terms.
func typeWord(t reflect.Type) string {
	if t == nil {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if word := typeNameWord(t.String()); word != "" {
		return word
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return ""
}

// typeNameWord names what a Go type, known by its name only, takes; "" when the name does not
// tell (a named string type reads like a struct).
func typeNameWord(name string) string {
	name = strings.TrimLeft(name, "*")
	switch {
	case name == "[]uint8" || name == "[]byte":
		return "a base64-encoded string"
	case strings.HasPrefix(name, "[]"):
		return "a list"
	case strings.HasPrefix(name, "map["):
		return "a mapping"
	case name == "string":
		return "a string"
	case name == "bool":
		return "true or false"
	case name == "float32" || name == "float64":
		return "a number"
	case name == "intstr.IntOrString":
		return "a number or a string"
	case strings.HasPrefix(name, "int") || strings.HasPrefix(name, "uint"):
		return "a whole number"
	case name == "resource.Quantity":
		return "a quantity such as 500m or 512Mi"
	case name == "v1.Time" || name == "v1.MicroTime":
		return "a time such as 2026-01-31T09:30:00Z"
	}
	return ""
}
