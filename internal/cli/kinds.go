package cli

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/weirgitops/weir/internal/compat"
)

// fluxKind describes one Flux kind as the CLI sees it: its API, how its table looks and what
// can be done to it.
type fluxKind struct {
	// Kind is the API kind, e.g. GitRepository.
	Kind string
	// GV is the group and version the CLI reads and writes.
	GV schema.GroupVersion
	// Use is the command noun, e.g. "git" under sources or "kustomizations".
	Use string
	// Aliases are the noun's other spellings (ks, hr, …).
	Aliases []string
	// Headers are the table columns after NAME (and NAMESPACE with -A).
	Headers []string
	// Row returns the cells after the name.
	Row func(u *unstructured.Unstructured) []string
	// NoStatus marks kinds without status (Alert, Provider): the status selector never matches.
	NoStatus bool
	// Suspendable kinds have spec.suspend.
	Suspendable bool
	// Revision returns the revision the object reached.
	Revision func(u *unstructured.Unstructured) string
	// Verb is the past tense flux prints with the revision ("fetched", "applied").
	Verb string
}

// successMessage is the last line reconcile, resume and create print for a Ready object, as
// flux words it: "fetched revision …", "applied revision …", "scan fetched 3 tags".
func (k *fluxKind) successMessage(u *unstructured.Unstructured) string {
	switch k {
	case imageRepoKind:
		n, _, _ := unstructured.NestedInt64(u.Object, "status", "lastScanResult", "tagCount")
		return fmt.Sprintf("scan fetched %d tags", n)
	case imagePolicyKind:
		return fmt.Sprintf("selected ref %s", latestImage(u))
	case imageUpdateKind:
		if c, _, _ := unstructured.NestedString(u.Object, "status", "lastPushCommit"); c != "" {
			return "last push commit " + c
		}
		return "repository up-to-date"
	case receiverKind:
		if p, _, _ := unstructured.NestedString(u.Object, "status", "webhookPath"); p != "" {
			return "generated webhook URL " + p
		}
		return ""
	}
	if k.Revision == nil {
		return ""
	}
	rev := k.Revision(u)
	if rev == "" {
		return ""
	}
	return k.Verb + " revision " + rev
}

// GVK returns the kind's group, version and kind.
func (k *fluxKind) GVK() schema.GroupVersionKind { return k.GV.WithKind(k.Kind) }

var (
	sourceGV       = schema.GroupVersion{Group: "source.toolkit.fluxcd.io", Version: "v1"}
	kustomizeGV    = schema.GroupVersion{Group: "kustomize.toolkit.fluxcd.io", Version: "v1"}
	helmGV         = schema.GroupVersion{Group: "helm.toolkit.fluxcd.io", Version: "v2"}
	notificationGV = schema.GroupVersion{Group: "notification.toolkit.fluxcd.io", Version: "v1"}
	notifyBetaGV   = schema.GroupVersion{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3"}
	imageGV        = schema.GroupVersion{Group: "image.toolkit.fluxcd.io", Version: "v1"}
)

var statusHeaders = []string{"Revision", "Suspended", "Ready", "Message"}

func artifactRow(u *unstructured.Unstructured) []string {
	ready, msg := readyStatus(u)
	return []string{artifactRevision(u), suspendedCell(u), ready, msg}
}

func artifactRevision(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(u.Object, "status", "artifact", "revision")
	return s
}

func lastAppliedRevision(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	return s
}

// helmReleaseRevision is the chart version of the latest release in history, or the last
// attempted revision, as flux shows it.
func helmReleaseRevision(u *unstructured.Unstructured) string {
	hist, _, _ := unstructured.NestedSlice(u.Object, "status", "history")
	if len(hist) > 0 {
		if m, ok := hist[0].(map[string]any); ok {
			if v, ok := m["chartVersion"].(string); ok && v != "" {
				return v
			}
		}
	}
	s, _, _ := unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
	return s
}

var (
	gitKind = &fluxKind{Kind: "GitRepository", GV: sourceGV, Use: "git", Headers: statusHeaders,
		Row: artifactRow, Suspendable: true, Revision: artifactRevision, Verb: "fetched"}
	ociKind = &fluxKind{Kind: "OCIRepository", GV: sourceGV, Use: "oci", Headers: statusHeaders,
		Row: artifactRow, Suspendable: true, Revision: artifactRevision, Verb: "fetched"}
	helmRepoKind = &fluxKind{Kind: "HelmRepository", GV: sourceGV, Use: "helm", Headers: statusHeaders,
		Row: artifactRow, Suspendable: true, Revision: artifactRevision, Verb: "fetched"}
	chartKind = &fluxKind{Kind: "HelmChart", GV: sourceGV, Use: "chart", Headers: statusHeaders,
		Row: artifactRow, Suspendable: true, Revision: artifactRevision, Verb: "fetched"}
	bucketKind = &fluxKind{Kind: "Bucket", GV: sourceGV, Use: "bucket", Headers: statusHeaders,
		Row: artifactRow, Suspendable: true, Revision: artifactRevision, Verb: "fetched"}
	externalKind = &fluxKind{Kind: "ExternalArtifact", GV: sourceGV, Use: "external", Headers: statusHeaders,
		Row: artifactRow, Revision: artifactRevision, Verb: "fetched"}
	ksKind = &fluxKind{Kind: "Kustomization", GV: kustomizeGV, Use: "kustomizations",
		Aliases: []string{"kustomization", "ks"}, Headers: statusHeaders, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			ready, msg := readyStatus(u)
			return []string{lastAppliedRevision(u), suspendedCell(u), ready, msg}
		}, Revision: lastAppliedRevision, Verb: "applied"}
	hrKind = &fluxKind{Kind: "HelmRelease", GV: helmGV, Use: "helmreleases",
		Aliases: []string{"helmrelease", "hr"}, Headers: statusHeaders, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			ready, msg := readyStatus(u)
			return []string{helmReleaseRevision(u), suspendedCell(u), ready, msg}
		}, Revision: helmReleaseRevision, Verb: "applied"}
	alertKind = &fluxKind{Kind: "Alert", GV: notifyBetaGV, Use: "alerts", Aliases: []string{"alert"},
		Headers: []string{"Suspended", "Ready", "Message"}, NoStatus: true, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			return []string{suspendedCell(u), "True", "Alert is Ready"}
		}}
	providerKind = &fluxKind{Kind: "Provider", GV: notifyBetaGV, Use: "alert-providers",
		Aliases: []string{"alert-provider"}, Headers: []string{"Ready", "Message"}, NoStatus: true, Suspendable: true,
		Row: func(*unstructured.Unstructured) []string { return []string{"True", "Provider is Ready"} }}
	receiverKind = &fluxKind{Kind: "Receiver", GV: notificationGV, Use: "receivers", Aliases: []string{"receiver"},
		Headers: []string{"Suspended", "Ready", "Message"}, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			ready, msg := readyStatus(u)
			return []string{suspendedCell(u), ready, msg}
		}}
	imageRepoKind = &fluxKind{Kind: "ImageRepository", GV: imageGV, Use: "repository",
		Headers: []string{"Last scan", "Suspended", "Ready", "Message"}, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			ready, msg := readyStatus(u)
			scan, _, _ := unstructured.NestedString(u.Object, "status", "lastScanResult", "scanTime")
			return []string{formatTime(scan), suspendedCell(u), ready, msg}
		}}
	imagePolicyKind = &fluxKind{Kind: "ImagePolicy", GV: imageGV, Use: "policy",
		Headers: []string{"Latest image", "Ready", "Message"}, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			ready, msg := readyStatus(u)
			return []string{latestImage(u), ready, msg}
		}, Revision: latestImage}
	imageUpdateKind = &fluxKind{Kind: "ImageUpdateAutomation", GV: imageGV, Use: "update",
		Headers: []string{"Last run", "Suspended", "Ready", "Message"}, Suspendable: true,
		Row: func(u *unstructured.Unstructured) []string {
			ready, msg := readyStatus(u)
			run, _, _ := unstructured.NestedString(u.Object, "status", "lastAutomationRunTime")
			return []string{formatTime(run), suspendedCell(u), ready, msg}
		}}
)

// sourceKinds are the kinds under `get sources`, in flux's order.
var sourceKinds = []*fluxKind{ociKind, bucketKind, gitKind, helmRepoKind, chartKind, externalKind}

// imageKinds are the kinds under `get images`, in flux's order.
var imageKinds = []*fluxKind{imageRepoKind, imagePolicyKind, imageUpdateKind}

// allKinds is every Flux kind the CLI knows, in `get all` order.
var allKinds = []*fluxKind{ociKind, bucketKind, gitKind, helmRepoKind, chartKind, externalKind,
	imageRepoKind, imagePolicyKind, imageUpdateKind, hrKind, ksKind, receiverKind, providerKind, alertKind}

// kindByName finds a kind by its Kind, case-insensitively, or by a noun or alias.
func kindByName(name string) (*fluxKind, bool) {
	for _, k := range allKinds {
		if strings.EqualFold(k.Kind, name) {
			return k, true
		}
	}
	return nil, false
}

func latestImage(u *unstructured.Unstructured) string {
	name, _, _ := unstructured.NestedString(u.Object, "status", "latestRef", "name")
	tag, _, _ := unstructured.NestedString(u.Object, "status", "latestRef", "tag")
	if name == "" {
		return ""
	}
	if tag == "" {
		return name
	}
	return name + ":" + tag
}

func formatTime(s string) string {
	if s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.Format(time.RFC3339)
}

func suspendedCell(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend")
	if s {
		return "True"
	}
	return "False"
}

// condition returns the condition of the given type, if the object has it.
func condition(u *unstructured.Unstructured, typ string) (status, reason, message string, ok bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, isMap := c.(map[string]any)
		if !isMap {
			continue
		}
		if t, _ := m["type"].(string); strings.EqualFold(t, typ) {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
			return status, reason, message, true
		}
	}
	return "", "", "", false
}

// readyStatus is the READY and MESSAGE cells, as flux prints them for an object never
// reconciled: "False" and "waiting to be reconciled".
func readyStatus(u *unstructured.Unstructured) (string, string) {
	if s, _, m, ok := condition(u, compat.ReadyCondition); ok {
		return s, m
	}
	return "False", "waiting to be reconciled"
}
