// Package redact keeps secrets out of messages. It imports nothing of this module, so the
// collector, the pusher and the commands can all use it without depending on each other.
package redact

import "net/url"

// URL is address with any password in it replaced by "xxxxx", for messages; an address that
// does not parse is not shown at all, since where its password ends is unknown.
func URL(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}
