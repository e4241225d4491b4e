package features

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Gate names weir acts on.
const (
	// CancelHealthCheckOnNewRevision: a new source revision ends a running health check and
	// is applied at once. Flux: opt-in; weir: on.
	CancelHealthCheckOnNewRevision = "CancelHealthCheckOnNewRevision"
	// StrictPostBuildSubstitutions: a variable without a value and without a default fails
	// the build. Flux 2.9 and weir: on.
	StrictPostBuildSubstitutions = "StrictPostBuildSubstitutions"
	// DisableFailFastBehavior: a health check goes on to its timeout even when an object has
	// failed for good. Off.
	DisableFailFastBehavior = "DisableFailFastBehavior"
	// AdditiveCELDependencyCheck: a dependsOn readyExpr is checked in addition to the
	// built-in readiness check instead of replacing it. Off.
	AdditiveCELDependencyCheck = "AdditiveCELDependencyCheck"
	// DisableConfigWatchers: changes of ConfigMaps and Secrets that Kustomizations read
	// (substituteFrom, decryption keys) no longer trigger them. Off.
	DisableConfigWatchers = "DisableConfigWatchers"
	// ExternalArtifact: Kustomizations (and HelmReleases) accept sourceRef.kind
	// ExternalArtifact. On in weir, off in Flux.
	ExternalArtifact = "ExternalArtifact"
	// UseHelm3Defaults: HelmReleases apply client-side, wait with Helm 3's readiness checks and
	// do not post-render hooks, where their spec does not say otherwise. Off.
	UseHelm3Defaults = "UseHelm3Defaults"
	// DefaultToRetryOnFailure: a HelmRelease without an install or upgrade strategy retries a
	// failed action every five minutes instead of remediating. Off.
	DefaultToRetryOnFailure = "DefaultToRetryOnFailure"
	// DisableChartDigestTracking: a HelmRelease's OCIRepository chart is tracked by version
	// alone. Off.
	DisableChartDigestTracking = "DisableChartDigestTracking"
	// AllowDNSLookups: Helm templates may resolve host names. Off.
	AllowDNSLookups = "AllowDNSLookups"
	// ObjectLevelWorkloadIdentity lets objects authenticate as a ServiceAccount of their own.
	ObjectLevelWorkloadIdentity = "ObjectLevelWorkloadIdentity"
)

// Gate is one known feature gate.
type Gate struct {
	// Default is weir's value when the flag does not set it.
	Default bool
	// Effect says what the gate does in weir, for `weir controller --help` and the docs.
	Effect string
}

// known lists every gate name Flux's controllers accept, with weir's default and effect.
var known = map[string]Gate{
	CancelHealthCheckOnNewRevision: {true, "a new source revision ends a running health check and is applied at once (Flux: opt-in)"},
	StrictPostBuildSubstitutions:   {true, "a variable with no value and no default fails the build"},
	DisableFailFastBehavior:        {false, "health checks run to their timeout even after an object failed for good"},
	AdditiveCELDependencyCheck:     {false, "a dependsOn readyExpr is checked in addition to the built-in readiness, not instead of it"},
	ExternalArtifact:               {true, "Kustomizations may build from ExternalArtifact sources (off by default in Flux)"},
	DisableConfigWatchers:          {false, "changes of ConfigMaps and Secrets that Kustomizations read do not trigger them"},
	// Accepted so that Flux's flags carry over; weir has no such behaviour to switch.
	"DisableStatusPollerCache":  {true, "no effect: health checks read through weir's shared informer cache"},
	"GroupChangeLog":            {false, "no effect: events list every changed object"},
	"DirectSourceFetch":         {false, "no effect: appliers read artifacts from the in-process store"},
	"MigrateAPIVersion":         {false, "no effect yet"},
	"CacheSecretsAndConfigMaps": {false, "no effect: Secrets and ConfigMaps are read from the API server"},
	ObjectLevelWorkloadIdentity: {false, "Kustomizations may decrypt with the identity of spec.decryption.serviceAccountName (AWS, Azure, GCP, Vault)"},
	"OOMWatch":                  {false, "no effect yet: reserved for the HelmRelease controller"},
	AllowDNSLookups:             {false, "Helm templates may resolve host names (getHostByName)"},
	DisableChartDigestTracking:  {false, "a HelmRelease's OCIRepository chart is tracked by version alone, not by digest"},
	UseHelm3Defaults:            {false, "HelmReleases default to client-side apply, the legacy wait and the nohooks post-render strategy"},
	DefaultToRetryOnFailure:     {false, "HelmReleases without an install/upgrade strategy retry failed actions instead of remediating"},
	"FluxStorage":               {false, "no effect yet: reserved for the image controllers"},
	"GitShallowClone":           {true, "no effect yet: reserved for image update automation"},
	"GitAllBranchReferences":    {true, "no effect yet: reserved for image update automation"},
	"GitSparseCheckout":         {false, "no effect yet: reserved for image update automation"},
	"GitForcePushBranch":        {true, "no effect yet: reserved for image update automation"},
}

// Gates are the gates in force.
type Gates map[string]bool

// Parse reads a --feature-gates value ("A=true,B=false") over weir's defaults.
func Parse(spec string) (Gates, error) {
	g := Gates{}
	for name, k := range known {
		g[name] = k.Default
	}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("feature gate %q: want Name=true or Name=false", kv)
		}
		name = strings.TrimSpace(name)
		if _, known := known[name]; !known {
			return nil, fmt.Errorf("unknown feature gate %q; known: %s", name, strings.Join(Names(), ", "))
		}
		on, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("feature gate %s: %q is not a boolean", name, value)
		}
		g[name] = on
	}
	return g, nil
}

// Enabled reports whether the gate is on; a nil Gates has weir's defaults.
func (g Gates) Enabled(name string) bool {
	if v, ok := g[name]; ok {
		return v
	}
	return known[name].Default
}

// Lookup returns the known gate name and whether there is one.
func Lookup(name string) (Gate, bool) {
	g, ok := known[name]
	return g, ok
}

// Names lists the known gates, sorted.
func Names() []string {
	out := make([]string, 0, len(known))
	for n := range known {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
