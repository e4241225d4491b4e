// Package plan answers "if this checkout merges, what changes in the cluster?": it discovers
// the Kustomizations and HelmReleases of a repository as weir's controllers would (starting
// from a root Kustomization, following what each build produces), builds each with the
// controllers' own code (build.Pipeline for Kustomizations, the HelmRelease controller's
// render for HelmReleases), compares the result with a base revision or with the cluster,
// and checks it (build and substitution errors, missing substituteFrom and valuesFrom objects,
// schemas, dependency cycles, objects claimed twice, Secrets applied unencrypted).
//
// Invariants:
//   - No second implementation of a build: every object comes from build.Pipeline or
//     helmrelease.Render.
//   - Every Kustomization and HelmRelease is built once per snapshot, in parallel within a
//     bound.
//   - Nothing is written to the checkout or, in live mode, to the cluster (server-side dry
//     runs only); Secret values never appear in a plan's output.
package plan
