// Package build turns a directory of an artifact into the Kubernetes objects
// a Kustomization applies: kustomize build, Flux's overrides, SOPS
// decryption, post-build substitution and validation.
//
// Everything here is a pure function of its inputs (a directory tree, a
// Kustomization spec, keys and variables already fetched by the caller); no
// Kubernetes client is used.
//
// Invariants:
//   - Every file read during a build is resolved, symlinks included, inside the
//     artifact root; a path or symlink leading out of it is an error. The build
//     never writes to the artifact tree: a generated or rewritten
//     kustomization.yaml lives in memory only.
//   - Every file read during a build, and every file decrypted, passes
//     safeyaml.Check with safeyaml.DefaultLimits before anything parses it:
//     an alias bomb, a too deeply nested or too large file fails the build
//     with a *safeyaml.LimitError naming the file from the artifact root.
//     Generator sources are bounded too, as the file system cannot tell why
//     kustomize reads a file; data that is not YAML passes. The text
//     post-build substitution produces is bounded the same way.
//   - Exec and Go plugins are disabled; only kustomize builtins run.
//   - SOPS data is read, decrypted and written by SOPS' own Go module (its
//     stores, key groups, Shamir threshold and key sources), so a file
//     decrypts to what `sops decrypt` prints; only the key service is weir's,
//     offering a decryption Secret's keys and credentials and otherwise the
//     controller's environment, as Flux does.
//   - Decrypted values never appear in an error message: SOPS errors name the
//     object or file and the reason, and kustomize errors raised after a
//     decryption are scrubbed of every decrypted value.
//   - Substitution follows Flux's envsubst: only the braced form ${var} is
//     expanded, $${var} escapes, and an undefined variable without a default
//     is an error naming it (Flux 2.9 strict mode) unless AllowUndefined is set.
//   - Malformed input yields an error, never a panic: kustomize panics are
//     recovered into errors.
package build
