// Package testenv starts a real Kubernetes control plane for tests: etcd, kube-apiserver and
// kube-controller-manager, built by the project itself from Go modules (tools/envtest), with
// weir's CRDs installed. Tests share one control plane per package (TestMain) and take a fresh
// namespace each.
//
// Invariants: the binaries come from the project's own build, cached by Kubernetes version;
// every process started here is stopped by Stop, which TestMain runs even when tests fail.
package testenv
