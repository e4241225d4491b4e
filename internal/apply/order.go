package apply

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Stage is one step of a staged apply. Stages are applied in increasing order and pruned in
// decreasing order.
type Stage int

// The apply stages, as Flux's kustomize-controller.
const (
	// StageClusterDefinitions holds CustomResourceDefinitions, Namespaces and ClusterRoles;
	// they are waited for before the next stage.
	StageClusterDefinitions Stage = iota
	// StageClasses holds every kind whose name ends in "Class" (StorageClass, IngressClass,
	// GatewayClass, …).
	StageClasses
	// StageCustom holds the kinds listed in Options.CustomStageKinds.
	StageCustom
	// StageRest holds everything else.
	StageRest
)

// String names the stage for logs and errors.
func (s Stage) String() string {
	switch s {
	case StageClusterDefinitions:
		return "cluster definitions"
	case StageClasses:
		return "classes"
	case StageCustom:
		return "custom kinds"
	default:
		return "resources"
	}
}

// kindOrderFirst and kindOrderLast order kinds within a stage, as Flux does: a kind listed
// first comes before unlisted kinds, which come before the kinds listed last.
var (
	kindOrderFirst = []string{
		"CustomResourceDefinition",
		"Namespace",
		"ClusterClass",
		"RuntimeClass",
		"PriorityClass",
		"StorageClass",
		"VolumeSnapshotClass",
		"IngressClass",
		"GatewayClass",
		"ResourceQuota",
		"ServiceAccount",
		"Role",
		"ClusterRole",
		"RoleBinding",
		"ClusterRoleBinding",
		"ConfigMap",
		"Secret",
		"Service",
		"LimitRange",
		"Deployment",
		"StatefulSet",
		"CronJob",
		"PodDisruptionBudget",
	}
	kindOrderLast = []string{
		"MutatingWebhookConfiguration",
		"ValidatingWebhookConfiguration",
	}
)

func kindRank(kind string) int {
	if i := slices.Index(kindOrderFirst, kind); i >= 0 {
		return i - len(kindOrderFirst)
	}
	if i := slices.Index(kindOrderLast, kind); i >= 0 {
		return i + 1
	}
	return 0
}

// compareMeta orders identities by kind rank, then group, kind, namespace and name: the order
// Flux applies objects in within a stage.
func compareMeta(a, b ObjMetadata) int {
	if a.Group != b.Group || a.Kind != b.Kind {
		if ra, rb := kindRank(a.Kind), kindRank(b.Kind); ra != rb {
			return ra - rb
		}
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// stageOf returns the stage an object of this group and kind is applied in.
func stageOf(gk schema.GroupKind, custom []schema.GroupKind) Stage {
	switch {
	case gk.Kind == "CustomResourceDefinition" && gk.Group == "apiextensions.k8s.io",
		gk.Kind == "Namespace" && gk.Group == "",
		gk.Kind == "ClusterRole" && gk.Group == "rbac.authorization.k8s.io":
		return StageClusterDefinitions
	case strings.HasSuffix(gk.Kind, "Class"):
		return StageClasses
	case slices.Contains(custom, gk):
		return StageCustom
	default:
		return StageRest
	}
}

// compareApplyOrder orders identities by stage, then by compareMeta.
func compareApplyOrder(a, b ObjMetadata, custom []schema.GroupKind) int {
	if sa, sb := stageOf(a.GroupKind(), custom), stageOf(b.GroupKind(), custom); sa != sb {
		return int(sa) - int(sb)
	}
	return compareMeta(a, b)
}

// SortObjects sorts objects in apply order: by stage, then in Flux's kind order, then by
// namespace and name. Prune and deletion use the reverse.
func SortObjects(objs []*unstructured.Unstructured) {
	sortObjects(objs, nil)
}

func sortObjects(objs []*unstructured.Unstructured, custom []schema.GroupKind) {
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return compareApplyOrder(ObjMetadataFor(a), ObjMetadataFor(b), custom)
	})
}

// splitStages groups objects by stage, each group sorted, in stage order; empty stages are
// left out.
func splitStages(objs []*unstructured.Unstructured, custom []schema.GroupKind) [][]*unstructured.Unstructured {
	var stages [StageRest + 1][]*unstructured.Unstructured
	for _, o := range objs {
		s := stageOf(o.GroupVersionKind().GroupKind(), custom)
		stages[s] = append(stages[s], o)
	}
	var out [][]*unstructured.Unstructured
	for _, s := range stages {
		if len(s) > 0 {
			sortObjects(s, custom)
			out = append(out, s)
		}
	}
	return out
}
