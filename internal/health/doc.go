// Package health evaluates the health of applied objects: kstatus for any
// object, Flux's CEL health check expressions for the kinds they cover,
// expansion of health check references (with weir's wildcard names and
// namespaces) into concrete objects, and Flux-worded aggregate messages.
//
// Everything here is pure: it reads unstructured objects already fetched by
// the caller and never talks to a cluster; waiting and polling belong to the
// reconciler.
//
// Invariants:
//   - A CEL expression sees the object's top-level fields as variables
//     (status, metadata, spec…), as in Flux, plus self for the whole object;
//     expressions are evaluated inProgress, then failed, then current, the
//     first true one wins, and none true means InProgress. A stale
//     status.observedGeneration means InProgress before any expression runs.
//   - Objects of a kind with no matching expression fall back to kstatus.
//   - Messages match Flux's wording ("timeout waiting for: […]",
//     "failed early due to stalled resources: […]") so tooling that parses
//     them keeps working.
package health
