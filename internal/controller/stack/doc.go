// Package stack reconciles hops.ops.com.ai/v1alpha1 FluxGitopsStacks: one object that stands
// up GitOps on a cluster. Its steps, in order: the GitHub repository (observed, created, from a
// template, updated, as the management policies allow), the engine (weir's own chart, stored in
// weir's artifact store, published as an ExternalArtifact and installed by a HelmRelease), the
// Karpenter NodePool, the GitRepository's credentials (an ExternalSecret, or a Secret derived
// from the stack's GitHub credentials), the GitRepository "gitops", and, once it is Ready, the
// Kustomizations. Status and one condition per component say how far it got.
//
// Invariants: every object the stack writes is applied server-side as "weir-stack" and carries
// the stack's labels, by which it is found again; the GitHub token is read from its Secret and
// never put in a log, event, condition or status; deletion goes Kustomizations, then the
// GitRepository and its Secret, then the repository (only with allowDelete and the Delete
// policy), then the engine, which is kept while other Flux objects still need it.
package stack
