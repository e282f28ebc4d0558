// Package version reports what build this is. The Makefile stamps Version and Commit at link
// time; a plain `go install` falls back to the module version Go records in the binary.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X github.com/alertmend/kubectl-alertmend/pkg/version.Version=...".
var (
	Version = ""
	Commit  = ""
)

// Info is what `kubectl alertmend version -o json` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's version information.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info.Version == "" {
		info.Version = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
	}
	return info
}
