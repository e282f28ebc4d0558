package testcluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// auditPolicy records every request at Metadata level: who, which verb, which object, never
// a request or response body.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`

// AuditEvent is the part of an audit event tests assert on.
type AuditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
}

// AuditEvents reads the audit log and returns the events whose user agent starts with
// userAgentPrefix.
func (c *Cluster) AuditEvents(userAgentPrefix string) ([]AuditEvent, error) {
	if c.AuditLog == "" {
		return nil, fmt.Errorf("the cluster was started without Options.Audit")
	}
	f, err := os.Open(c.AuditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []AuditEvent
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for scanner.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log line: %w", err)
		}
		if strings.HasPrefix(e.UserAgent, userAgentPrefix) {
			events = append(events, e)
		}
	}
	return events, scanner.Err()
}
