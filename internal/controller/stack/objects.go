package stack

import (
	"encoding/base64"
	"maps"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/source/git"
)

// Labels that tie an object to its stack.
const (
	// LabelStackName and LabelStackNamespace name the stack that created an object.
	LabelStackName      = "hops.ops.com.ai/stack-name"
	LabelStackNamespace = "hops.ops.com.ai/stack-namespace"
	// AnnotationAdopted marks an engine HelmRelease the stack adopted: deleting the stack
	// leaves it installed.
	AnnotationAdopted = "hops.ops.com.ai/adopted"
	// FieldManager is the server-side apply field manager of the stack's objects.
	FieldManager = "weir-stack"

	// nodePoolLabel and nodePoolTaint mark the GitOps nodes of the NodePool.
	nodePoolLabel = "karpenter.sh/nodepool"
	nodePoolTaint = "hops.ops.com.ai/gitops"
)

// Group/version/kinds of the objects the stack writes without Go types in weir.
var (
	externalSecretGVK = [3]string{"external-secrets.io", "v1", "ExternalSecret"}
	nodePoolGVK       = [3]string{"karpenter.sh", "v1", "NodePool"}
)

// stackLabels are the labels of every object of the stack: spec.labels and the stack's own.
func stackLabels(stack *hopsv1.FluxGitopsStack) map[string]any {
	l := map[string]any{}
	for k, v := range stack.Spec.Labels {
		l[k] = v
	}
	l["app.kubernetes.io/managed-by"] = "weir"
	l[LabelStackName] = stack.Name
	l[LabelStackNamespace] = stack.Namespace
	return l
}

// object returns an unstructured object of apiVersion and kind with the stack's labels.
func object(stack *hopsv1.FluxGitopsStack, apiVersion, kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": name, "labels": stackLabels(stack)}
	if namespace != "" {
		md["namespace"] = namespace
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

// authMode is how the GitRepository authenticates.
type authMode int

const (
	authNone authMode = iota
	// authToken is HTTP basic auth with a token (GitHub's x-access-token scheme).
	authToken
	// authApp is a GitHub App (provider: github).
	authApp
)

// gitRepository is the GitRepository "gitops" of the repository at url.
func gitRepository(stack *hopsv1.FluxGitopsStack, namespace, url string, auth authMode) *unstructured.Unstructured {
	spec := map[string]any{
		"url":      url,
		"interval": durationOr(stack.Spec.Source.Interval, defaultSourceInterval).String(),
		"ref":      map[string]any{"branch": branch(&stack.Spec)},
	}
	if auth != authNone {
		spec["secretRef"] = map[string]any{"name": AuthSecretName}
	}
	if auth == authApp {
		spec["provider"] = "github"
	}
	return object(stack, "source.toolkit.fluxcd.io/v1", "GitRepository", namespace, SourceName, spec)
}

// kustomizationObject is one of the stack's Kustomizations, on the GitRepository.
func kustomizationObject(stack *hopsv1.FluxGitopsStack, namespace string, k kustomization) *unstructured.Unstructured {
	return object(stack, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", namespace, k.name, map[string]any{
		"interval":  k.interval.String(),
		"path":      k.path,
		"prune":     k.prune,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": SourceName},
	})
}

// authSecret is the GitRepository's Secret derived from the stack's GitHub credentials: a token
// as basic auth, or the App's keys in Flux's shape (with githubAppBaseURL off github.com).
func authSecret(stack *hopsv1.FluxGitopsStack, namespace string, cr credentials) (*unstructured.Unstructured, authMode) {
	data := map[string]any{}
	mode := authToken
	if cr.app != nil {
		mode = authApp
		data["githubAppID"] = itoa(cr.app.AppID)
		data["githubAppPrivateKey"] = string(cr.app.PrivateKey)
		if cr.app.InstallationID != 0 {
			data["githubAppInstallationID"] = itoa(cr.app.InstallationID)
		} else {
			data["githubAppInstallationOwner"] = cr.app.InstallationOwner
		}
		if cr.apiURL != DefaultAPIURL {
			data["githubAppBaseURL"] = strings.TrimSuffix(cr.apiURL, "/")
		}
	} else {
		data["username"] = git.GitHubAppUsername
		data["password"] = cr.token
	}
	u := object(stack, "v1", "Secret", namespace, AuthSecretName, nil)
	enc := make(map[string]any, len(data))
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v.(string)))
	}
	u.Object["type"] = "Opaque"
	u.Object["data"] = enc
	return u, mode
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// validateExternalSecrets checks externalSecrets when enabled: a store, a path, the App ID and
// key properties, and at most one of the installation ID and owner properties.
func validateExternalSecrets(es *hopsv1.ExternalSecretsSpec) string {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"secretStoreName", es.SecretStoreName}, {"githubApp.secretPath", es.GithubApp.SecretPath},
		{"githubApp.appIdKey", es.GithubApp.AppIDKey}, {"githubApp.privateKeyKey", es.GithubApp.PrivateKeyKey},
	} {
		if f.v == "" {
			missing = append(missing, "externalSecrets."+f.name)
		}
	}
	if len(missing) > 0 {
		return strings.Join(missing, ", ") + " required when externalSecrets.enabled is true"
	}
	if es.GithubApp.InstallationIDKey != "" && es.GithubApp.InstallationOwnerKey != "" {
		return "externalSecrets.githubApp: set at most one of installationIdKey and installationOwnerKey (Flux takes exactly one of githubAppInstallationID and githubAppInstallationOwner)"
	}
	return ""
}

// externalSecret renders the GitRepository's Secret in Flux's GitHub App shape from the store:
// githubAppID, githubAppPrivateKey and exactly one of githubAppInstallationID (from
// installationIdKey) or githubAppInstallationOwner (from installationOwnerKey, else
// repository.org), and githubAppBaseURL when the API is not GitHub's.
func externalSecret(stack *hopsv1.FluxGitopsStack, namespace, apiURL string) *unstructured.Unstructured {
	es := stack.Spec.ExternalSecrets
	app := es.GithubApp
	kind := es.SecretStoreKind
	if kind == "" {
		kind = defaultSecretStoreKind
	}
	ref := func(secretKey, property string) map[string]any {
		return map[string]any{"secretKey": secretKey, "remoteRef": map[string]any{"key": app.SecretPath, "property": property}}
	}
	data := []any{ref("appId", app.AppIDKey), ref("privateKey", app.PrivateKeyKey)}
	tmpl := map[string]any{
		"githubAppID":         "{{ .appId }}",
		"githubAppPrivateKey": "{{ .privateKey }}",
	}
	switch {
	case app.InstallationIDKey != "":
		data = append(data, ref("installationId", app.InstallationIDKey))
		tmpl["githubAppInstallationID"] = "{{ .installationId }}"
	case app.InstallationOwnerKey != "":
		data = append(data, ref("installationOwner", app.InstallationOwnerKey))
		tmpl["githubAppInstallationOwner"] = "{{ .installationOwner }}"
	default:
		tmpl["githubAppInstallationOwner"] = stack.Spec.Repository.Org
	}
	if apiURL != DefaultAPIURL {
		tmpl["githubAppBaseURL"] = strings.TrimSuffix(apiURL, "/")
	}
	targetLabels := maps.Clone(stackLabels(stack))
	return object(stack, externalSecretGVK[0]+"/"+externalSecretGVK[1], externalSecretGVK[2], namespace, AuthSecretName, map[string]any{
		"refreshInterval": durationOr(es.RefreshInterval, defaultRefreshInterval).String(),
		"secretStoreRef":  map[string]any{"name": es.SecretStoreName, "kind": kind},
		"target": map[string]any{
			"name":           AuthSecretName,
			"creationPolicy": "Owner",
			"template": map[string]any{
				"engineVersion": "v2",
				"metadata":      map[string]any{"labels": targetLabels},
				"data":          tmpl,
			},
		},
		"data": data,
	})
}

// nodePool is the Karpenter NodePool of GitOps nodes: labelled by Karpenter with its name and
// tainted so that only the engine (which tolerates the taint) runs there.
func nodePool(stack *hopsv1.FluxGitopsStack) *unstructured.Unstructured {
	ref := map[string]any{"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}
	if r := stack.Spec.NodePool.NodeClassRef; r != nil {
		ref = map[string]any{"group": r.Group, "kind": r.Kind, "name": r.Name}
	}
	return object(stack, nodePoolGVK[0]+"/"+nodePoolGVK[1], nodePoolGVK[2], "", nodePoolName(&stack.Spec), map[string]any{
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{nodePoolTaint: "true"}},
			"spec": map[string]any{
				"nodeClassRef": ref,
				"requirements": []any{
					map[string]any{"key": "kubernetes.io/os", "operator": "In", "values": []any{"linux"}},
					map[string]any{"key": "karpenter.sh/capacity-type", "operator": "In", "values": []any{"on-demand"}},
				},
				"taints": []any{map[string]any{"key": nodePoolTaint, "value": "true", "effect": "NoSchedule"}},
			},
		},
		"disruption": map[string]any{"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
	})
}

// nodePoolToleration is the engine's toleration of the NodePool's taint.
func nodePoolToleration() map[string]any {
	return map[string]any{"key": nodePoolTaint, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
}
