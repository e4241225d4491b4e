package main

import (
	"fmt"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// appTemplate is one application as in Flux's MTTP benchmark: a Deployment scaled to zero, a
// ServiceAccount, a Service and an Ingress. NAME is the application's name.
const appTemplate = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: NAME
  labels:
    app.kubernetes.io/name: NAME
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  labels:
    app.kubernetes.io/name: NAME
spec:
  replicas: 0
  selector:
    matchLabels:
      app.kubernetes.io/name: NAME
  template:
    metadata:
      labels:
        app.kubernetes.io/name: NAME
    spec:
      serviceAccountName: NAME
      containers:
        - name: app
          image: ghcr.io/stefanprodan/podinfo:6.7.1
          ports:
            - name: http
              containerPort: 9898
          resources:
            requests:
              cpu: 1m
              memory: 16Mi
---
apiVersion: v1
kind: Service
metadata:
  name: NAME
  labels:
    app.kubernetes.io/name: NAME
spec:
  selector:
    app.kubernetes.io/name: NAME
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: NAME
  labels:
    app.kubernetes.io/name: NAME
spec:
  rules:
    - host: NAME.bench.invalid
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: NAME
                port:
                  name: http
`

// configTemplate is the ConfigMap a push changes; VALUE is its data.value.
const configTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: NAME-config
  labels:
    ` + appLabel + `: NAME
data:
  value: VALUE
`

// objectsPerApp is the number of objects appTemplate holds.
const objectsPerApp = 4

// appYAML returns the application called name; with a ConfigMap holding value when config.
func appYAML(name string, config bool, value string) string {
	out := strings.ReplaceAll(appTemplate, "NAME", name)
	if config {
		out += "---\n" + strings.NewReplacer("NAME", name, "VALUE", value).Replace(configTemplate)
	}
	return out
}

// appName is the name of the application with index i.
func appName(i int) string { return fmt.Sprintf("app-%d", i) }

// gitRepository returns a GitRepository on branch main of url. Like Flux's benchmark, the
// interval is long: everything measured is triggered by creation or by a reconcile request.
func gitRepository(ns, name, url string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Interval:  metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
}

// kustomization returns a Kustomization as Flux's MTTP benchmark declares them: prune, wait
// for every applied object, a long interval, objects in the run's namespace.
func kustomization(ns, name, source, path string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval:        metav1.Duration{Duration: time.Hour},
			RetryInterval:   &metav1.Duration{Duration: 2 * time.Minute},
			Timeout:         &metav1.Duration{Duration: 5 * time.Minute},
			Path:            path,
			Prune:           true,
			Wait:            true,
			TargetNamespace: ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
		},
	}
}

// dependsOn makes ks depend on the Kustomization called name in its namespace.
func dependsOn(ks *kustomizev1.Kustomization, name string) *kustomizev1.Kustomization {
	ks.Spec.DependsOn = append(ks.Spec.DependsOn, kustomizev1.DependencyReference{Name: name})
	return ks
}

// namespace returns a Namespace object.
func namespace(name string) client.Object {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
