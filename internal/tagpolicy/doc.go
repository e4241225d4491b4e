// Package tagpolicy selects the latest tag of an image repository as an ImagePolicy says:
// a semver range (Masterminds constraints), alphabetical or numerical order, after an optional
// regular expression filter whose extract template gives the value that is compared.
//
// It is pure: tags in, one tag or an error out. Invariants: the tag returned is one of the
// tags given, never an extracted value; invalid input (a range, pattern or order that does not
// parse) is ErrInvalidPolicy, distinct from ErrNoMatch (no tag fits).
package tagpolicy
