package version

import (
	"runtime"
	"runtime/debug"
)

// Version is weir's release version, set with -ldflags "-X .../internal/version.Version=v1.2.3".
var Version = "v0.0.0-dev"

// Commit is the Git commit weir was built from, set at link time like Version.
var Commit = "unknown"

// Info describes a weir binary.
type Info struct {
	Version         string `json:"version"`
	Commit          string `json:"commit"`
	GoVersion       string `json:"goVersion"`
	ClientGoVersion string `json:"clientGoVersion"`
}

// Get returns the identity of the running binary.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), ClientGoVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	for _, dep := range bi.Deps {
		if dep.Path == "k8s.io/client-go" {
			info.ClientGoVersion = dep.Version
			if dep.Replace != nil {
				info.ClientGoVersion = dep.Replace.Version
			}
		}
	}
	if info.Commit == "unknown" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Commit = s.Value
			}
		}
	}
	return info
}
