package snapshot

import (
	"encoding/json"
	"errors"
	"regexp"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// goTypeNames matches what a message written for people must not hold: decoder prefixes and
// Go type names (map[string]string, []v1.Container, snapshot.typeMeta, int32).
var goTypeNames = regexp.MustCompile(`(^|[^.\w])json: |Go (struct|value)|map\[|\[\][a-z]|\b[a-z][a-z0-9]*\.[A-Z]\w*|\bint(32|64)\b|typeMeta`)

func TestDescribeDecodeError(t *testing.T) {
	type inner struct {
		Ports []int32 `json:"ports"`
	}
	type Embedded struct {
		Command []string `json:"command"`
	}
	type doc struct {
		Name    string            `json:"name"`
		Labels  map[string]string `json:"labels"`
		Inner   inner             `json:"inner"`
		Enabled bool              `json:"enabled"`
		Ratio   float64           `json:"ratio"`
		Data    []byte            `json:"data"`
		Embedded
	}
	for _, tc := range []struct {
		input, want string
	}{
		{`{"name": 3}`, "name: got a number, want a string"},
		{`{"labels": [1]}`, "labels: got a list, want a mapping"},
		{`{"inner": {"ports": "80"}}`, "inner.ports: got a string, want a list"},
		{`{"inner": {"ports": [1.5]}}`, "inner.ports: got the number 1.5, want a whole number"},
		{`{"enabled": "yes"}`, "enabled: got a string, want true or false"},
		{`{"ratio": {}}`, "ratio: got a mapping, want a number"},
		{`{"data": 1}`, "data: got a number, want a base64-encoded string"},
		{`{"command": "ls"}`, "command: got a string, want a list"}, // the embedded struct's name is left out
		{`[1]`, "the whole document: got a list, want a mapping"},
		{`{"inner": true}`, "inner: got true or false, want a mapping"},
	} {
		var d doc
		err := json.Unmarshal([]byte(tc.input), &d)
		if err == nil {
			t.Fatalf("%s decoded", tc.input)
		}
		if got := DescribeDecodeError(err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.input, got, tc.want)
		}
	}
	// Decoders whose error types are not exported are read from their text.
	for text, want := range map[string]string{
		"json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string": "metadata.labels: got a list, want a mapping",
		"json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container":      "spec.containers: got a mapping, want a list",
		"json: cannot unmarshal string into Go struct field X.spec.port of type intstr.IntOrString":              "spec.port: got a string, want a number or a string",
		"json: cannot unmarshal array into Go struct field X.spec.protocol of type v1.Protocol":                  "spec.protocol: got a list, which does not belong there",
		"json: cannot unmarshal number into Go value of type string":                                             "the whole document: got a number, want a string",
		"error unmarshaling JSON: while decoding JSON: json: unknown field \"foo\"":                              `unknown field "foo"`,
		`parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`:            `invalid time "yesterday": want one such as 2026-01-31T09:30:00Z`,
		"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'":            "invalid quantity: want a number with an optional unit, such as 500m, 2 or 512Mi",
		"json: something new": "something new",
		"plain":               "plain",
	} {
		if got := DescribeDecodeError(errors.New(text)); got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
	// What sigs.k8s.io/yaml's strict decoding says, as the baseline reads it.
	var d doc
	err := sigsyaml.UnmarshalStrict([]byte("name: a\nnmae: b\n"), &d)
	if got := DescribeDecodeError(err); got != `unknown field "nmae"` {
		t.Errorf("strict YAML: %q", got)
	}
	err = sigsyaml.UnmarshalStrict([]byte("labels: [a]\n"), &d)
	if got := DescribeDecodeError(err); got != "labels: got a list, want a mapping" || goTypeNames.MatchString(got) {
		t.Errorf("strict YAML: %q", got)
	}
}
