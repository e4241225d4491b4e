package health

import (
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// ObjectStatus is the last known health of one checked object.
type ObjectStatus struct {
	ID     ObjectID
	Result Result
	// Err is an error met while reading or evaluating the object.
	Err error
}

// describe renders "Kind/ns/name status: 'X'" with the error when present,
// as Flux does.
func (s ObjectStatus) describe() string {
	d := fmt.Sprintf("%s status: '%s'", s.ID, s.Result.Status)
	if s.Err != nil {
		d += ": " + s.Err.Error()
	}
	return d
}

// Aggregate summarises many statuses: Failed when any failed, Current when
// all are current (or there are none), InProgress otherwise.
func Aggregate(statuses []ObjectStatus) status.Status {
	agg := Current
	for _, s := range statuses {
		switch s.Result.Status {
		case Failed:
			return Failed
		case Current:
		default:
			agg = InProgress
		}
	}
	return agg
}

// NotReady returns the statuses that are not Current, in order.
func NotReady(statuses []ObjectStatus) []ObjectStatus {
	var out []ObjectStatus
	for _, s := range statuses {
		if s.Result.Status != Current {
			out = append(out, s)
		}
	}
	return out
}

// TimeoutError is Flux's message for a health check that ran out of time:
// "timeout waiting for: [Deployment/ns/name status: 'InProgress', …]".
func TimeoutError(statuses []ObjectStatus) error {
	var parts []string
	for _, s := range NotReady(statuses) {
		parts = append(parts, s.describe())
	}
	return fmt.Errorf("timeout waiting for: [%s]", strings.Join(parts, ", "))
}

// StalledError is Flux's fail-fast message, naming the failed objects:
// "failed early due to stalled resources: [Deployment/ns/name status: 'Failed']".
func StalledError(statuses []ObjectStatus) error {
	var parts []string
	for _, s := range statuses {
		if s.Result.Status == Failed {
			parts = append(parts, s.describe())
		}
	}
	return fmt.Errorf("failed early due to stalled resources: [%s]", strings.Join(parts, ", "))
}

// CheckFailed wraps a health check error as the Kustomization's Ready
// message does: "health check failed after 1m0s: …".
func CheckFailed(elapsed time.Duration, err error) error {
	return fmt.Errorf("health check failed after %s: %w", elapsed, err)
}

// Passed is the Healthy condition message on success.
func Passed(elapsed time.Duration) string {
	return fmt.Sprintf("Health check passed in %s", elapsed)
}
