// Package config reads .alertmend.yaml: the gate's default, per-check severities and ignore
// rules. Every mistake is reported with the file and line, because a config that silently
// ignores a typo would silently widen what a CI gate lets through.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

const (
	APIVersion = "alertmend.io/v1alpha1"
	Kind       = "Config"
	// DefaultFile is read from the working directory when --config is not given.
	DefaultFile = ".alertmend.yaml"
	// maxFileSize bounds what is read: a config file is a few kilobytes.
	maxFileSize = 4 << 20
	dateLayout  = "2006-01-02"
)

// Config is a parsed config file.
type Config struct {
	// File is the path it was read from, for messages.
	File string
	// FailOn is the default for --fail-on when FailOnSet; "" means none.
	FailOn    check.Severity
	FailOnSet bool
	// Severity overrides checks' severities, by check ID.
	Severity map[string]check.Severity
	Ignore   []IgnoreRule
}

// IgnoreRule silences findings; every field given must match.
type IgnoreRule struct {
	// Check is a check ID or a glob (path.Match syntax, e.g. "rbac-*").
	Check string
	// Kind is an object kind such as Deployment, compared without regard to case.
	Kind string
	// Namespace and Name are globs.
	Namespace string
	Name      string
	// Selector matches the object's labels; nil when not given.
	Selector     labels.Selector
	SelectorText string
	Reason       string
	// Expires is the first day on which the rule no longer suppresses, "2006-01-02"; "" never.
	Expires string
	// Line is where the rule starts in File.
	Line int
}

// Where names the rule as FILE:LINE.
func (r IgnoreRule) Where(file string) string { return fmt.Sprintf("%s:%d", file, r.Line) }

// Expired reports whether the rule no longer applies on the day of now (in now's time zone).
func (r IgnoreRule) Expired(now time.Time) bool {
	return r.Expires != "" && now.Format(dateLayout) >= r.Expires
}

// Describe is a short human description of what the rule selects.
func (r IgnoreRule) Describe() string {
	var parts []string
	add := func(field, value string) {
		if value != "" {
			parts = append(parts, field+"="+value)
		}
	}
	add("check", r.Check)
	add("kind", r.Kind)
	add("namespace", r.Namespace)
	add("name", r.Name)
	add("selector", r.SelectorText)
	if len(parts) == 0 {
		return "every finding"
	}
	return strings.Join(parts, " ")
}

// Error is a mistake in a config file, at a line when one is known.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and validates a config file. checkIDs lists every check, so that a misspelt ID is
// an error instead of a rule that never matches.
func Load(file string, checkIDs []string) (*Config, error) {
	f, err := os.Open(file)
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return nil, &Error{File: file, Msg: fmt.Sprintf("cannot read the config file: %v", err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &Error{File: file, Msg: fmt.Sprintf("cannot read the config file: %v", err)}
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d MiB; a config file is a few kilobytes", maxFileSize>>20)}
	}
	return Parse(file, data, checkIDs)
}

// Parse validates a config file's content; file only names it in messages.
func Parse(file string, data []byte, checkIDs []string) (*Config, error) {
	p := parser{file: file, checkIDs: checkIDs}
	return p.parse(data)
}

type parser struct {
	file     string
	checkIDs []string
}

func (p parser) errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p parser) parse(data []byte) (*Config, error) {
	cfg := &Config{File: p.file, Severity: map[string]check.Severity{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil // an empty file configures nothing
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		return nil, p.errorf(at, "more than one YAML document; the config is one document")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return cfg, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "the config must be a mapping with failOn, severity and ignore")
	}
	if err := p.noAliases(root); err != nil {
		return nil, err
	}
	err := p.eachField(root, map[string]func(*yaml.Node) error{
		"apiVersion": func(v *yaml.Node) error { return p.constant(v, "apiVersion", APIVersion) },
		"kind":       func(v *yaml.Node) error { return p.constant(v, "kind", Kind) },
		"failOn": func(v *yaml.Node) error {
			s, err := p.scalar(v, "failOn")
			if err != nil {
				return err
			}
			cfg.FailOnSet = true
			if strings.EqualFold(s, "none") {
				return nil
			}
			if cfg.FailOn, err = check.ParseSeverity(s); err != nil {
				return p.errorf(v, "failOn: %v (or none)", err)
			}
			return nil
		},
		"severity": func(v *yaml.Node) error { return p.severities(v, cfg.Severity) },
		"ignore": func(v *yaml.Node) error {
			if v.Kind != yaml.SequenceNode {
				return p.errorf(v, "ignore must be a list of rules")
			}
			for _, item := range v.Content {
				rule, err := p.rule(item)
				if err != nil {
					return err
				}
				cfg.Ignore = append(cfg.Ignore, rule)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// noAliases refuses anchors and aliases: a config has no use for them, and they are how a
// small file expands into a huge one.
func (p parser) noAliases(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return p.errorf(n, "YAML anchors and aliases are not supported in the config")
	}
	for _, c := range n.Content {
		if err := p.noAliases(c); err != nil {
			return err
		}
	}
	return nil
}

// eachField walks a mapping, refusing unknown and repeated keys.
func (p parser) eachField(m *yaml.Node, fields map[string]func(*yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], m.Content[i+1]
		handle, ok := fields[key.Value]
		if !ok || key.Kind != yaml.ScalarNode {
			return p.errorf(key, "unknown field %q (want one of %s)", key.Value, strings.Join(sortedKeys(fields), ", "))
		}
		if seen[key.Value] {
			return p.errorf(key, "field %q is given twice", key.Value)
		}
		seen[key.Value] = true
		if err := handle(value); err != nil {
			return err
		}
	}
	return nil
}

func (p parser) scalar(v *yaml.Node, field string) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return "", p.errorf(v, "%s must be a single value", field)
	}
	return v.Value, nil
}

func (p parser) constant(v *yaml.Node, field, want string) error {
	s, err := p.scalar(v, field)
	if err != nil {
		return err
	}
	if s != want {
		return p.errorf(v, "%s is %q; this version of kubectl alertmend reads %q", field, s, want)
	}
	return nil
}

func (p parser) severities(v *yaml.Node, into map[string]check.Severity) error {
	if v.Kind != yaml.MappingNode {
		return p.errorf(v, "severity must map check IDs to severities, e.g. container-no-limits: low")
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, value := v.Content[i], v.Content[i+1]
		if !slices.Contains(p.checkIDs, key.Value) {
			return p.errorf(key, "severity: unknown check %q%s", key.Value, check.UnknownIDHint(key.Value, p.checkIDs))
		}
		if _, dup := into[key.Value]; dup {
			return p.errorf(key, "severity: check %q is given twice", key.Value)
		}
		s, err := p.scalar(value, "severity of "+key.Value)
		if err != nil {
			return err
		}
		sev, err := check.ParseSeverity(s)
		if err != nil {
			return p.errorf(value, "severity of %s: %v", key.Value, err)
		}
		into[key.Value] = sev
	}
	return nil
}

func (p parser) rule(item *yaml.Node) (IgnoreRule, error) {
	rule := IgnoreRule{Line: item.Line}
	if item.Kind != yaml.MappingNode {
		return rule, p.errorf(item, "each ignore rule is a mapping with check, kind, namespace, name, selector, reason, expires")
	}
	glob := func(field string, into *string) func(*yaml.Node) error {
		return func(v *yaml.Node) error {
			s, err := p.scalar(v, field)
			if err != nil {
				return err
			}
			if _, err := path.Match(s, ""); err != nil {
				return p.errorf(v, "%s: %q is not a valid glob", field, s)
			}
			*into = s
			return nil
		}
	}
	err := p.eachField(item, map[string]func(*yaml.Node) error{
		"check": func(v *yaml.Node) error {
			if err := glob("check", &rule.Check)(v); err != nil {
				return err
			}
			if !p.checkPatternMatches(rule.Check) {
				return p.errorf(v, "check: %q matches no check%s", rule.Check, check.UnknownIDHint(rule.Check, p.checkIDs))
			}
			return nil
		},
		"kind":      glob("kind", &rule.Kind),
		"namespace": glob("namespace", &rule.Namespace),
		"name":      glob("name", &rule.Name),
		"selector": func(v *yaml.Node) error {
			s, err := p.scalar(v, "selector")
			if err != nil {
				return err
			}
			sel, err := labels.Parse(s)
			if err != nil {
				return p.errorf(v, "selector: %v", err)
			}
			rule.Selector, rule.SelectorText = sel, s
			return nil
		},
		"reason": func(v *yaml.Node) error {
			s, err := p.scalar(v, "reason")
			rule.Reason = strings.TrimSpace(s)
			return err
		},
		"expires": func(v *yaml.Node) error {
			s, err := p.scalar(v, "expires")
			if err != nil {
				return err
			}
			if _, err := time.Parse(dateLayout, s); err != nil {
				return p.errorf(v, "expires: %q is not a date such as 2027-01-31", s)
			}
			rule.Expires = s
			return nil
		},
	})
	if err != nil {
		return rule, err
	}
	if rule.Reason == "" {
		return rule, p.errorf(item, "ignore rule without a reason; say why it is safe to ignore, so the next reader knows")
	}
	return rule, nil
}

// checkPatternMatches reports whether a check ID or glob names at least one known check.
func (p parser) checkPatternMatches(pattern string) bool {
	return slices.ContainsFunc(p.checkIDs, func(id string) bool { return GlobMatch(pattern, id) })
}

// GlobMatch matches a value against a glob in path.Match syntax; an invalid glob matches
// nothing (Parse has rejected those already).
func GlobMatch(pattern, value string) bool {
	ok, err := path.Match(pattern, value)
	return err == nil && ok
}

// yamlError turns the YAML library's message into one naming the file and line.
func (p parser) yamlError(err error) error {
	var typeErr *yaml.TypeError
	if errors.As(err, &typeErr) && len(typeErr.Errors) > 0 {
		return &Error{File: p.file, Msg: strings.TrimPrefix(typeErr.Errors[0], "yaml: ")}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
