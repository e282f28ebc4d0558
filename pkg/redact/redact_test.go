package redact

import "testing"

func TestURL(t *testing.T) {
	for address, want := range map[string]string{
		"http://prometheus:9090":                 "http://prometheus:9090",
		"https://ci:s3cret@gateway.example:443/": "https://ci:xxxxx@gateway.example:443/",
		"http://user@host":                       "http://user@host",
		"http://ci:s3cret@host:bad port/":        "(an unparsable URL)",
	} {
		if got := URL(address); got != want {
			t.Errorf("URL(%q) = %q, want %q", address, got, want)
		}
	}
}
