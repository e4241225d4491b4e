// Package faultpoint names the places where the fault suite (`make test-faults`) makes weir
// fail on purpose: killed with SIGKILL (a crash between two writes) or made to panic inside a
// goroutine. In the binary users run it does nothing: Hit is an empty function unless weir is
// built with the `faults` build tag, which only the fault suite does.
//
// Under the tag, $WEIR_FAULTPOINT selects the point and the failure, "<point>[@N][:panic]":
// the N-th time (default the first) the process reaches <point> it kills itself with SIGKILL,
// or panics with ":panic". Every hit of a selected point is reported on stderr first, so that a
// test can tell the crash it asked for from any other.
package faultpoint

// The points weir marks. A point's name says where it is: the test that uses it explains what
// must hold after the crash.
const (
	// KustomizationApplied is after a Kustomization's objects were applied and before its
	// status (inventory, lastAppliedRevision) is written.
	KustomizationApplied = "kustomization-applied"
	// KustomizationPruning is after the first object of a prune was deleted and before the
	// others are.
	KustomizationPruning = "kustomization-pruning"
	// HelmUpgrading is after a HelmRelease's upgrade stored its pending release and before the
	// upgrade's objects are applied.
	HelmUpgrading = "helm-upgrading"
	// ArtifactWriting is after an artifact's bytes were written to the store's temporary file
	// and before it is renamed into place (a crash anywhere in the write leaves the same: a
	// temporary file and no artifact).
	ArtifactWriting = "artifact-writing"
	// ImageAutomationPushing is after an ImageUpdateAutomation committed and before it pushes.
	ImageAutomationPushing = "image-automation-pushing"
	// HealthWaiting is inside the goroutine that watches a Kustomization's health checks (the
	// informer handler that wakes the waiting Kustomizations).
	HealthWaiting = "health-waiting"
	// ApplyWorker is inside a worker goroutine of a concurrent server-side apply, before it
	// writes its object.
	ApplyWorker = "apply-worker"
	// EventForwarding is inside a goroutine that delivers notifications to providers.
	EventForwarding = "event-forwarding"
)
