// Package apply is weir's server-side apply engine: it applies the objects a Kustomization
// declares in Flux's stages, corrects drift, records what it did as a change set, keeps the
// inventory of applied objects in Flux's format, prunes what left it, and previews all of this
// as a diff.
//
// Invariants:
//   - Flux's kustomize-controller is the contract: field manager, owner labels, inventory ids
//     (`<namespace>_<name>_<group>_<kind>`), per-object annotations (ssa, force, prune,
//     reconcile), apply stages and prune order are Flux's, so clusters move between Flux and
//     weir without churn.
//   - An object that has not drifted costs no write: every object is first applied as a
//     server-side dry run and compared with the live object; only new or drifted objects are
//     applied, so resourceVersion does not move on a no-op reconcile.
//   - A stage is planned before anything is written (reads and dry runs only): one broken
//     object fails the stage and writes nothing. Writes then follow Flux's kind order.
//   - Stages run in order (cluster definitions, then classes, then custom kinds, then the
//     rest) and a stage's objects are ready (CRDs established and served, Namespaces active)
//     before the next stage starts; every wait has a deadline.
//   - Prune deletes only objects that still carry this owner's labels, never those marked
//     prune disabled, reconcile disabled or ssa Ignore, in the reverse of apply order.
//   - Pure parts (identity, inventory, ordering, change sets, diff text, managed-field
//     takeover) take no client; the Manager is the only part that talks to the API server.
package apply
