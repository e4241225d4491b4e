// Package image holds the image automation controllers, Flux's image-reflector and
// image-automation controllers in one: ImageRepository (scan a registry's tags into the tag
// store), ImagePolicy (select the latest tag, optionally its digest) and
// ImageUpdateAutomation (write the selected images into the marked fields of a Git
// repository, commit, push, and have the GitRepository fetch at once).
//
// Invariants: every reconciler runs on the reconcile.Skeleton; tags live in the
// imagetags.Store, never in the API; an automation changes only the fields its markers name
// and never force-pushes a branch it did not create; no credential reaches a condition,
// event or log.
package image
