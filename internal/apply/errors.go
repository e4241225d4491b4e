package apply

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/weirgitops/weir/internal/compat"
)

// ErrPanic is a panic recovered in one of the manager's worker goroutines (apply, prune,
// diff): it fails that object's step instead of ending the process.
var ErrPanic = errors.New("panic in an apply worker")

// immutableText matches the ways the API server, CEL rules and admission webhooks say that a
// field cannot change.
var immutableText = regexp.MustCompile(`(?i)immutable|may not change once set|cannot be changed|updates to [a-z]+ spec for fields other than .* are forbidden`)

// IsImmutableError reports whether err is the API server refusing an update because it
// changes a field that cannot change after creation (a Job's template, a Deployment's
// selector, a Service's clusterIP, a StatefulSet's volumeClaimTemplates …).
func IsImmutableError(err error) bool {
	if err == nil {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) && !apierrors.IsBadRequest(err) {
		return false
	}
	return immutableText.MatchString(err.Error())
}

// ImmutableError reports an apply refused because it changes immutable fields, when recreating
// the object is not allowed. It names the fields and what to do, without the server's long
// message (which can hold the whole object).
type ImmutableError struct {
	// Fields are the paths the server named, such as "spec.template" or "spec.clusterIPs[0]".
	Fields []string
	// Reason is the server's short reason, such as "field is immutable".
	Reason string
	// Err is the API server's error.
	Err error
}

func newImmutableError(err error) *ImmutableError {
	e := &ImmutableError{Err: err}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				if c.Field != "" {
					e.Fields = append(e.Fields, c.Field)
				}
				if e.Reason == "" && immutableText.MatchString(c.Message) {
					e.Reason = shortReason(c.Message)
				}
			}
		}
	}
	if e.Reason == "" {
		e.Reason = "field is immutable"
	}
	return e
}

// shortReason keeps the last clause of a field error message ("Invalid value: <dump>: field
// is immutable" → "field is immutable").
func shortReason(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// Error names the fields and says how to allow recreating the object.
func (e *ImmutableError) Error() string {
	what := "immutable field"
	if len(e.Fields) > 0 {
		what += " " + strings.Join(e.Fields, ", ")
	}
	return fmt.Sprintf("%s changed (%s); set spec.force or annotate %s: %s to recreate the object",
		what, e.Reason, compat.ForceAnnotation, compat.Enabled)
}

// Unwrap returns the API server's error.
func (e *ImmutableError) Unwrap() error { return e.Err }
