// Package helmrelease reconciles helm.toolkit.fluxcd.io/v2 HelmReleases on weir's reconciler
// skeleton with the Helm SDK: the chart from a HelmChart it creates (spec.chart) or one that
// spec.chartRef names (HelmChart, OCIRepository, ExternalArtifact), values composed in Flux's
// order, and Helm's install, upgrade, rollback and uninstall actions on release storage that
// the helm CLI reads. A release a crash left pending is unlocked on the next reconcile.
package helmrelease
