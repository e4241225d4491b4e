package ui

import (
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is a Flux kind the UI shows.
type Kind struct {
	Kind     string `json:"kind"`
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	// Category groups kinds in the navigation: sources, appliers, notifications, images.
	Category    string `json:"category"`
	Suspendable bool   `json:"suspendable"`
}

// GVK is the kind's GroupVersionKind.
func (k Kind) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// Kinds are the Flux kinds, in the navigation's order.
var Kinds = []Kind{
	{"Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "appliers", true},
	{"HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases", "appliers", true},
	{"GitRepository", "source.toolkit.fluxcd.io", "v1", "gitrepositories", "sources", true},
	{"OCIRepository", "source.toolkit.fluxcd.io", "v1", "ocirepositories", "sources", true},
	{"HelmRepository", "source.toolkit.fluxcd.io", "v1", "helmrepositories", "sources", true},
	{"HelmChart", "source.toolkit.fluxcd.io", "v1", "helmcharts", "sources", true},
	{"Bucket", "source.toolkit.fluxcd.io", "v1", "buckets", "sources", true},
	{"ExternalArtifact", "source.toolkit.fluxcd.io", "v1", "externalartifacts", "sources", false},
	{"Alert", "notification.toolkit.fluxcd.io", "v1beta3", "alerts", "notifications", true},
	{"Provider", "notification.toolkit.fluxcd.io", "v1beta3", "providers", "notifications", true},
	{"Receiver", "notification.toolkit.fluxcd.io", "v1", "receivers", "notifications", true},
	{"ImageRepository", "image.toolkit.fluxcd.io", "v1", "imagerepositories", "images", true},
	{"ImagePolicy", "image.toolkit.fluxcd.io", "v1", "imagepolicies", "images", true},
	{"ImageUpdateAutomation", "image.toolkit.fluxcd.io", "v1", "imageupdateautomations", "images", true},
}

// kindByName finds a kind by its name (case-insensitive).
func kindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(k.Kind, name) {
			return k, true
		}
	}
	return Kind{}, false
}

// States of an object.
const (
	StateReady       = "ready"
	StateFailing     = "failing"
	StateReconciling = "reconciling"
	StateSuspended   = "suspended"
	StateUnknown     = "unknown"
)

// Summary is one object as the lists show it.
type Summary struct {
	Kind      string            `json:"kind"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	State     string            `json:"state"`
	Stalled   bool              `json:"stalled,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Message   string            `json:"message,omitempty"`
	Revision  string            `json:"revision,omitempty"`
	Source    string            `json:"source,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Since is when the Ready condition last changed.
	Since *time.Time `json:"since,omitempty"`
}

// ID is Kind/namespace/name.
func (s Summary) ID() string { return s.Kind + "/" + s.Namespace + "/" + s.Name }

// summarize reads an object's state the way flux get does.
func summarize(u *unstructured.Unstructured) Summary {
	s := Summary{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), State: StateUnknown, Labels: u.GetLabels()}
	var conds []metav1.Condition
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		c := metav1.Condition{}
		c.Type, _ = m["type"].(string)
		st, _ := m["status"].(string)
		c.Status = metav1.ConditionStatus(st)
		c.Reason, _ = m["reason"].(string)
		c.Message, _ = m["message"].(string)
		if ts, ok := m["lastTransitionTime"].(string); ok {
			if t, err := time.Parse(time.RFC3339, ts); err == nil {
				c.LastTransitionTime = metav1.NewTime(t)
			}
		}
		conds = append(conds, c)
	}
	ready := apimeta.FindStatusCondition(conds, "Ready")
	if ready != nil {
		s.Reason, s.Message = ready.Reason, ready.Message
		t := ready.LastTransitionTime.Time
		if !t.IsZero() {
			s.Since = &t
		}
		switch ready.Status {
		case metav1.ConditionTrue:
			s.State = StateReady
		case metav1.ConditionFalse:
			s.State = StateFailing
		default:
			s.State = StateReconciling
		}
	}
	if c := apimeta.FindStatusCondition(conds, "Reconciling"); c != nil && c.Status == metav1.ConditionTrue && s.State != StateFailing {
		s.State = StateReconciling
	}
	if c := apimeta.FindStatusCondition(conds, "Stalled"); c != nil && c.Status == metav1.ConditionTrue {
		s.Stalled, s.State = true, StateFailing
	}
	if ready == nil && len(conds) == 0 {
		if _, found, _ := unstructured.NestedMap(u.Object, "status"); !found {
			s.State = StateUnknown
		}
	}
	if susp, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); susp {
		s.State = StateSuspended
	}
	for _, path := range [][]string{{"status", "lastAppliedRevision"}, {"status", "artifact", "revision"}, {"status", "lastAttemptedRevision"}} {
		if v, _, _ := unstructured.NestedString(u.Object, path...); v != "" {
			s.Revision = v
			break
		}
	}
	if hist, _, _ := unstructured.NestedSlice(u.Object, "status", "history"); s.Revision == "" && len(hist) > 0 {
		if h, ok := hist[0].(map[string]any); ok {
			s.Revision, _ = h["chartVersion"].(string)
		}
	}
	s.Source = sourceOf(u)
	s.DependsOn = append(s.DependsOn, dependsOn(u)...)
	return s
}

// sourceOf names an object's source: Kind/namespace/name.
func sourceOf(u *unstructured.Unstructured) string {
	ref, found, _ := unstructured.NestedMap(u.Object, "spec", "sourceRef")
	if !found {
		if ref, found, _ = unstructured.NestedMap(u.Object, "spec", "chartRef"); !found {
			ref, found, _ = unstructured.NestedMap(u.Object, "spec", "chart", "spec", "sourceRef")
		}
	}
	if !found {
		return ""
	}
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	ns, _ := ref["namespace"].(string)
	if ns == "" {
		ns = u.GetNamespace()
	}
	if u.GetKind() == "HelmRelease" {
		if _, isRef, _ := unstructured.NestedMap(u.Object, "spec", "chartRef"); !isRef {
			// A chart template's source is the HelmChart the controller makes of it.
			hc, _, _ := unstructured.NestedString(u.Object, "status", "helmChart")
			if hc != "" {
				if hns, hname, ok := strings.Cut(hc, "/"); ok {
					return "HelmChart/" + hns + "/" + hname
				}
			}
		}
	}
	return kind + "/" + ns + "/" + name
}

// dependsOn returns Kind/namespace/name of what an object depends on.
func dependsOn(u *unstructured.Unstructured) []string {
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
	var out []string
	for _, d := range deps {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = u.GetNamespace()
		}
		kind, _ := m["kind"].(string)
		if kind == "" {
			kind = u.GetKind()
		}
		out = append(out, kind+"/"+ns+"/"+name)
	}
	return out
}
