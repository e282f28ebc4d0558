package snapshot

import (
	"bytes"
	"fmt"

	yamlv2 "go.yaml.in/yaml/v2"
)

// The YAML parser (the one sigs.k8s.io/yaml converts with) refuses documents where most of the
// nodes come from aliases, but counts nodes, not bytes: a 1 MiB string aliased 20,000 times
// passes, and converting it to JSON writes 20 GB. So what aliases add to a document is measured
// before conversion, and counted against the loader's limit as if it had been read.

// aliasExpansionError is a document whose aliases expand it past what the loader may still read.
type aliasExpansionError struct{ limit int64 }

func (e *aliasExpansionError) Error() string {
	return fmt.Sprintf("YAML aliases expand this document past the limit of %s of manifests", byteSize(e.limit))
}

// chargeAliasExpansion counts what aliases add to doc against the run's limit. A document needs
// both an anchor (&) and an alias (*) to expand, so most are passed over without parsing.
func (l *Loader) chargeAliasExpansion(doc []byte) error {
	if bytes.IndexByte(doc, '&') < 0 || bytes.IndexByte(doc, '*') < 0 {
		return nil
	}
	var value any
	if err := yamlv2.Unmarshal(doc, &value); err != nil {
		return err
	}
	// Without aliases, the estimate stays under twice the document: the quotes and commas JSON
	// adds to one-letter strings. Only what goes beyond is charged.
	own := 2 * int64(len(doc))
	allowance := own + l.maxBytes() - l.consumed
	size := expandedSize(value, allowance)
	if size > allowance {
		return &aliasExpansionError{limit: l.maxBytes()}
	}
	if added := size - own; added > 0 {
		l.consumed += added
	}
	return nil
}

// expandedSize estimates the bytes of JSON that value converts to, giving up once past limit.
// The parser decodes each alias into a copy of the node it names, except for strings, which all
// share one backing array: so the walk sees every node that was decoded, and adds up the strings
// that were never copied.
func expandedSize(value any, limit int64) int64 {
	var size int64
	var walk func(v any)
	walk = func(v any) {
		if size > limit {
			return
		}
		switch v := v.(type) {
		case string:
			size += int64(len(v)) + 3 // quotes and comma
		case []any:
			size += 2
			for _, item := range v {
				walk(item)
			}
		case map[any]any:
			size += 2
			for key, item := range v {
				walk(key)
				walk(item)
			}
		default:
			size += 2 // a number, boolean or null, at its shortest, and a comma
		}
	}
	walk(value)
	return size
}
