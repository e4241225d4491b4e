package reconcile

import (
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/redact"
)

// Conditions edits a condition list for one generation of an object.
type Conditions struct {
	List       *[]metav1.Condition
	Generation int64
}

// Set sets a condition; the transition time changes only when the status does. The message
// loses the userinfo of any URL in it, whatever step produced it.
func (c Conditions) Set(typ string, status metav1.ConditionStatus, reason, message string) {
	apimeta.SetStatusCondition(c.List, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: trimMessage(redact.Text(message)),
		ObservedGeneration: c.Generation,
	})
}

// True sets a condition to True.
func (c Conditions) True(typ, reason, message string) {
	c.Set(typ, metav1.ConditionTrue, reason, message)
}

// False sets a condition to False.
func (c Conditions) False(typ, reason, message string) {
	c.Set(typ, metav1.ConditionFalse, reason, message)
}

// Delete removes a condition.
func (c Conditions) Delete(typ string) { apimeta.RemoveStatusCondition(c.List, typ) }

// Get returns a condition, or nil.
func (c Conditions) Get(typ string) *metav1.Condition {
	return apimeta.FindStatusCondition(*c.List, typ)
}

// Progressing marks the object as being reconciled: Reconciling=True and Ready=Unknown, as
// kstatus expects of an object in progress.
func (c Conditions) Progressing(reason, message string) {
	c.True(compat.ReconcilingCondition, reason, message)
	c.Set(compat.ReadyCondition, metav1.ConditionUnknown, reason, message)
}

// Ready marks a successful reconcile: Ready=True, with Reconciling and Stalled removed.
func (c Conditions) Ready(reason, message string) {
	c.True(compat.ReadyCondition, reason, message)
	c.Delete(compat.ReconcilingCondition)
	c.Delete(compat.StalledCondition)
}

// NotReady marks a failed reconcile. A stalled failure sets Stalled=True and removes
// Reconciling; any other keeps Reconciling=True with reason ProgressingWithRetry.
func (c Conditions) NotReady(reason, message string, stalled bool) {
	c.False(compat.ReadyCondition, reason, message)
	if stalled {
		c.True(compat.StalledCondition, reason, message)
		c.Delete(compat.ReconcilingCondition)
		return
	}
	c.Delete(compat.StalledCondition)
	c.True(compat.ReconcilingCondition, compat.ProgressingWithRetryReason, message)
}

// IsReady reports whether the list has Ready=True.
func IsReady(list []metav1.Condition) bool {
	return apimeta.IsStatusConditionTrue(list, compat.ReadyCondition)
}

// maxMessage bounds condition messages well under the API's 32 KiB limit.
const maxMessage = 4096

func trimMessage(m string) string {
	if len(m) <= maxMessage {
		return m
	}
	return m[:maxMessage-3] + "..."
}
