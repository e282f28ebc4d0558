// Package cmdline reads the flags of Kubernetes components from their pods' command lines.
package cmdline

import (
	"slices"
	"strconv"
	"strings"
)

// Flags are a command line's flags: every occurrence, in order, as the pflag parser of the
// Kubernetes components would collect them.
type Flags struct {
	values map[string][]string
}

// Parse reads `--flag=value`, `--flag value` and bare boolean `--flag`, from a command and its
// args; boolFlags names the program's boolean flags, the only ones that never take the next word.
// A shell wrapper (`sh -c "kube-proxy --a=b ..."`) is split into words.
func Parse(tokens []string, boolFlags ...string) Flags {
	var words []string
	for _, t := range tokens {
		if strings.Contains(t, " --") {
			words = append(words, strings.Fields(t)...)
		} else {
			words = append(words, t)
		}
	}
	f := Flags{values: map[string][]string{}}
	bools := map[string]bool{}
	for _, name := range boolFlags {
		bools[name] = true
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
			continue
		}
		name := strings.TrimLeft(w, "-")
		value := "true"
		if n, v, ok := strings.Cut(name, "="); ok {
			name, value = n, v
		} else if !bools[name] && i+1 < len(words) {
			// As pflag does: a non-boolean flag takes the next word,
			// whatever it looks like ("--audit-log-path -" logs to stdout); a boolean one never.
			value = words[i+1]
			i++
		}
		f.values[name] = append(f.values[name], strings.Trim(value, `"'`))
	}
	return f
}

// Get returns the flag's value; when it is repeated, the last one wins, as for scalar flags.
func (f Flags) Get(name string) (string, bool) {
	v := f.values[name]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// IsSet reports whether the flag appears at all.
func (f Flags) IsSet(name string) bool { return len(f.values[name]) > 0 }

// List returns every comma-separated item of every occurrence of a list flag.
func (f Flags) List(name string) []string {
	var out []string
	for _, v := range f.values[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// Has reports whether a list flag contains item.
func (f Flags) Has(name, item string) bool { return slices.Contains(f.List(name), item) }

// Bool reads a boolean flag, with its default when unset.
func (f Flags) Bool(name string, def bool) bool {
	v, ok := f.Get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def // kube-apiserver would refuse to start; judge it as the default
	}
	return b
}
